"""SessionScribe benchmark harness: `.venv/bin/python bench/run.py` (see docs/BENCHMARKS.md)."""
