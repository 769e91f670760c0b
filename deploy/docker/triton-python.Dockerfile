# syntax=docker/dockerfile:1.7
# Triton from a current release running the project's tested Python-backend runner
# (model.py loads the same SavedModel with TensorFlow). Choose the config at start:
#   --model-config-name=gpu  GPU instance group (configs/gpu.pbtxt)
#   --model-config-name=cpu  CPU only (configs/cpu.pbtxt; docker-compose.cpu.yml)
#   docker build -f deploy/docker/triton-python.Dockerfile -t pic-search/triton-python:0.1.0 deploy/docker
#   docker build ... --build-arg TENSORFLOW='tensorflow-cpu==2.21.*' -t pic-search/triton-python:0.1.0-cpu deploy/docker
FROM nvcr.io/nvidia/tritonserver:25.10-py3

# tensorflow[and-cuda] brings the CUDA libraries TensorFlow's wheels expect. numpy<2: the
# runner is tested with numpy 1.26 (the pytriton build returned empty tensors with numpy 2).
ARG TENSORFLOW="tensorflow[and-cuda]==2.21.*"
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    HOME=/tmp
RUN python3 -m pip install "${TENSORFLOW}" "numpy>=1.26,<2"

LABEL org.opencontainers.image.title="pic-search triton (Python backend + TensorFlow)"
USER 1000:1000
EXPOSE 8000 8001 8002
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
  CMD ["curl", "-fsS", "http://127.0.0.1:8000/v2/health/ready"]
CMD ["tritonserver", "--model-repository=/models", "--model-config-name=gpu", "--strict-readiness=true", "--exit-on-error=true", "--http-port=8000", "--grpc-port=8001", "--metrics-port=8002", "--allow-metrics=true"]
