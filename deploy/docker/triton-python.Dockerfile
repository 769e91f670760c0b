# syntax=docker/dockerfile:1.7
# Triton on CPU: a current release running the project's tested Python-backend runner
# (`configs/cpu.pbtxt`, `--model-config-name=cpu`): OpenVINO or ONNX Runtime on each
# model's `model.onnx`, at the runtime and precision the config names. No TensorFlow:
# the runner's `tensorflow` runtime is only the local before/after baseline.
#   docker build -f deploy/docker/triton-python.Dockerfile -t pic-search/triton-python:0.1.0-cpu deploy/docker
FROM nvcr.io/nvidia/tritonserver:26.07-py3

# numpy<2: the runner is tested with numpy 1.26 (the pytriton build returned empty tensors
# with numpy 2). The versions are the ones pyproject.toml's `serving` extra tests.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    HOME=/tmp
RUN python3 -m pip install "numpy>=1.26,<2" "onnxruntime>=1.20,<2" "openvino>=2025.1,<2027"

LABEL org.opencontainers.image.title="pic-search triton (Python backend: OpenVINO, ONNX Runtime)"
USER 1000:1000
EXPOSE 8000 8001 8002
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
  CMD ["curl", "-fsS", "http://127.0.0.1:8000/v2/health/ready"]
CMD ["tritonserver", "--model-repository=/models", "--model-config-name=cpu", "--strict-readiness=true", "--exit-on-error=true", "--http-port=8000", "--grpc-port=8001", "--metrics-port=8002", "--allow-metrics=true"]
