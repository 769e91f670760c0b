"""Pic Search as an instrument: `python -m bench [--tiny] [--only NAME ...] [--report-only]`.

Each benchmark answers a question a user or operator asks (throughput and latency by
concurrency, a mixed load, batching, vector search at scale, quality, precision, the
cutoff, a soak), measures the gateway beside a baseline in the same run where one exists
(Triton and Milvus called directly, batching off), and writes `bench/results/<name>.json`
and `.png`; a full run then regenerates docs/performance.md. `--tiny` runs in seconds, into
`results/tiny/`. Nothing here writes into gateway/.
"""
