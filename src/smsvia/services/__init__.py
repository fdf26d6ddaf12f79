"""Use cases: they take the store, channels and settings as arguments; no HTTP types inside."""
