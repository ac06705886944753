"""Benchmark scripts: `python -m bench <name>` runs `bench/<name>.py`'s `main(argv)` and prints JSON lines."""
