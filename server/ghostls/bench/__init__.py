"""Benchmarks: `python -m ghostls.bench NAME`; each prints numbers and writes JSON."""
