"""Benchmark harnesses behind ``factoryos bench …``; results are recorded in docs/benchmarks.md."""
