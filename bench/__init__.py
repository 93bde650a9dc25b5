"""Latency benchmarks: backend × precision × preset × batch rows, pipeline mode, JSON results and reports."""
