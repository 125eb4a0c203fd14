"""Benchmarks: public-data accuracy against a TF-IDF baseline (public.py) and throughput (speed.py)."""
