"""The service layer: ingest, search, images, stats. Routes, the CLI's server side and the
web page share it; it knows nothing of HTTP."""
