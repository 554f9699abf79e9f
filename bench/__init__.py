"""Benchmarks that drive the running system and print each figure beside its baseline."""
