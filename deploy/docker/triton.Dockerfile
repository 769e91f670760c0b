# syntax=docker/dockerfile:1.7
# Production Triton on GPU: the stock current release, nothing added but the command. Its
# ONNX Runtime backend serves each model's `model.onnx` with `configs/onnx.pbtxt`
# (`--model-config-name=onnx`: dynamic batching, a GPU instance group, TensorRT as the
# accelerator). The repository is not baked in: Compose fills a volume with the
# model-builder service, Kubernetes copies it from the model bundle image in an init
# container (see deploy/README.md).
#   docker build -f deploy/docker/triton.Dockerfile -t pic-search/triton:0.1.0 deploy/docker
FROM nvcr.io/nvidia/tritonserver:26.07-py3

LABEL org.opencontainers.image.title="pic-search triton (ONNX Runtime + TensorRT)"
# HOME must be writable with a read-only root filesystem; TensorRT engines cache in /tmp.
ENV HOME=/tmp
# Triton's images ship curl and a non-root `triton-server` user with uid/gid 1000.
USER 1000:1000
EXPOSE 8000 8001 8002
# TensorRT builds its engines on first load: minutes per model on a cold cache.
HEALTHCHECK --interval=15s --timeout=5s --start-period=600s --retries=3 \
  CMD ["curl", "-fsS", "http://127.0.0.1:8000/v2/health/ready"]
# The image's entrypoint (nvidia_entrypoint.sh) execs this command.
CMD ["tritonserver", "--model-repository=/models", "--model-config-name=onnx", "--strict-readiness=true", "--exit-on-error=true", "--http-port=8000", "--grpc-port=8001", "--metrics-port=8002", "--allow-metrics=true"]
