"""Pure domain logic: no I/O, no framework imports, nothing of ours outside this package."""
