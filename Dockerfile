# syntax=docker/dockerfile:1.7
# The gateway image (FastAPI + uvicorn), built from the same pyproject.toml the tests use:
#   docker build -t pic-search/gateway:0.1.0 .
# It holds no model files: the gateway talks to Triton over gRPC and never reads
# model_repository/ at run time.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, read from pyproject.toml alone, so editing the source reuses this layer.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps) + '\n')" \
 && pip install -r /tmp/requirements.txt
COPY gateway ./gateway
# picsearch.v1's stubs are generated here from the proto (never committed); grpcio-tools is
# needed for that step only.
RUN pip install "grpcio-tools>=1.81,<2" \
 && python -m gateway.grpc.build_stubs \
 && pip uninstall -y grpcio-tools \
 && pip install --no-deps . \
 && cd / && python -c "import gateway.config, gateway.grpc.server"

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="pic-search gateway" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 pic-search \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin pic-search
COPY --from=build /opt/venv /opt/venv
# In a container the server must listen on every interface; the local default is 127.0.0.1.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIC_SEARCH_SERVER__HOST=0.0.0.0 \
    PIC_SEARCH_SERVER__PORT=8080 \
    PIC_SEARCH_GRPC__PORT=50051
WORKDIR /app
USER 10001:10001
EXPOSE 8080 50051
# The slim image has no curl; Python's urllib raises on anything but 2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PIC_SEARCH_SERVER__PORT', '8080'), timeout=4)"]
ENTRYPOINT ["pic-search"]
CMD ["gateway"]
