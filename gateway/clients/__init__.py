"""Clients for the gateway's dependencies: Triton (embeddings) and Milvus (vectors)."""
