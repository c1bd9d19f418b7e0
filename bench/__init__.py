"""Benchmarks: each module is runnable (`python -m bench.<name>`) and records its results."""
