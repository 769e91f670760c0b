# syntax=docker/dockerfile:1.7
# Production Triton: the native TensorFlow backend, which NVIDIA last shipped in 25.02.
# It serves the model repository at /models with the default config.pbtxt of each model
# (TensorFlow SavedModel on the GPU, dynamic batching). The repository is not baked in:
# Compose fills a volume with the model-builder service, Kubernetes copies it from the
# model bundle image in an init container (see deploy/README.md).
#   docker build -f deploy/docker/triton.Dockerfile -t pic-search/triton:0.1.0 deploy/docker
FROM nvcr.io/nvidia/tritonserver:25.02-py3

LABEL org.opencontainers.image.title="pic-search triton (TensorFlow backend)"
# HOME must be writable with a read-only root filesystem (TensorFlow caches under it).
ENV HOME=/tmp
# Triton's images ship curl and a non-root `triton-server` user with uid/gid 1000.
USER 1000:1000
EXPOSE 8000 8001 8002
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
  CMD ["curl", "-fsS", "http://127.0.0.1:8000/v2/health/ready"]
# The image's entrypoint (nvidia_entrypoint.sh) execs this command.
CMD ["tritonserver", "--model-repository=/models", "--strict-readiness=true", "--exit-on-error=true", "--http-port=8000", "--grpc-port=8001", "--metrics-port=8002", "--allow-metrics=true"]
