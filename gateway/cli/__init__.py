"""The `pic-search` command line."""
