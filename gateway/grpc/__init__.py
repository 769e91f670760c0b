"""The gRPC transport (picsearch.v1): a grpc.aio server in the gateway process, its error
mapping, and a small typed client. Stubs are generated from proto/ (see build_stubs.py)."""
