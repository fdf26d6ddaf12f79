"""Signed status callbacks, retried with backoff, every attempt recorded."""
