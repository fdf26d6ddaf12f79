"""Built-in simulators (SMSC over SMPP 3.4, RBM over REST) for the demo, tests and benchmarks."""
