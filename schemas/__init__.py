"""Event and API models: plain data, no I/O."""
