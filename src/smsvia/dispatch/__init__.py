"""The worker: claims due messages from the outbox, hands them to channels, applies results."""
