"""Benchmarks are regression measurements, run with ``pytest benchmarks --benchmark-only``."""
