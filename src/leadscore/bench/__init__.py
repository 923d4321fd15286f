"""Benchmarks: each module times one part of leadscore at scale and prints its figures (make bench-*)."""
