"""Benchmarks and load tests for Pic Search: `python -m bench [--tiny] [--only NAME ...]`.

Each benchmark measures the gateway beside a baseline in the same run (the same models
in-process, Triton and Milvus called directly, batching off, a naive decode) and writes
`bench/results/<name>.json` and `.png`; `--tiny` runs in seconds, into `results/tiny/`.
"""
