"""Launchers for the local stack: real Triton and Milvus servers as child processes."""
