# Two commands do everything on a fresh machine:  `make run`  and  `make test`.
# Stamps under .stamps/ make re-runs skip installs and model builds when nothing changed.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
TEST_MODELS := build/test-models
# bench/results/cutoff.json: the cutoff=auto rules the exporter writes into the configs.
MODEL_SOURCES := $(wildcard gateway/export/*.py gateway/export/builders/*.py gateway/models/*.py gateway/quality/*.py \
  bench/results/cutoff.json)
WEIGHTS ?= auto
PYTEST_ARGS ?=
# picsearch.v1's Python stubs: generated from the proto, never committed.
PROTOS := $(wildcard gateway/grpc/proto/picsearch/v1/*.proto)
STUBS := gateway/grpc/_generated/picsearch/v1/picsearch_pb2_grpc.py

.PHONY: install stubs models test-models browser wordnet tag-vocabulary lint test test-unit run bench bench-full soak clean

install: $(STAMPS)/venv $(STUBS)

$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e '.[serving,dev]'
	@touch $@

stubs: $(STUBS)
$(STUBS): $(STAMPS)/venv $(PROTOS) gateway/grpc/build_stubs.py
	$(BIN)/python -m gateway.grpc.build_stubs
	@touch $@

# Chromium for the browser tests (Debian's package; Playwright must not download one).
browser: $(STAMPS)/browser
$(STAMPS)/browser:
	@mkdir -p $(STAMPS)
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@touch $@

# WordNet 3.0's database (Debian's package) for the tag vocabulary's generator and its test;
# the gateway itself never reads WordNet (gateway/assets/tag_vocabulary.json is committed).
wordnet: $(STAMPS)/wordnet
$(STAMPS)/wordnet:
	@mkdir -p $(STAMPS)
	@test -f /usr/share/wordnet/data.noun || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wordnet-base >/dev/null; }
	@touch $@

tag-vocabulary: $(STAMPS)/venv $(STAMPS)/wordnet
	$(BIN)/python -m gateway.assets.build_tag_vocabulary

# Every registry model, as the tests use them; nothing downloads: seeded random weights,
# except EfficientNet-Lite0's real ImageNet weights, which ship inside a pip package (so the
# build measures its precisions on real photos, as it would in a user's build). The zoo
# (every model not enabled by default) is asked for at fp32: its tests check architectures
# at fp32, and its precision trials cost CI minutes that the default models' trials cover.
ZOO_MODELS := resnet50 efficientnetv2_s dinov2_small
test-models: $(STAMPS)/test-models
$(STAMPS)/test-models: $(STAMPS)/venv $(MODEL_SOURCES)
	$(BIN)/pic-search models build --weights random --weights efficientnet_lite0=pretrained \
	  $(foreach m,$(ZOO_MODELS),--cpu-runner $(m)=openvino:fp32) --all-models --output $(TEST_MODELS)
	@touch $@

# The local stack's models (PIC_SEARCH_MODELS__ENABLED, default vgg16, clip and
# efficientnet_lite0): WEIGHTS=auto takes pretrained weights where they can be had (always for
# EfficientNet-Lite0, whose weights ship in a pip package) and says loudly which are random.
models: $(STAMPS)/models
# A WEIGHTS= typed on the command line always rebuilds: the stamp cannot tell which weights
# the repository holds (`make models WEIGHTS=pretrained` after an offline build must act).
ifeq ($(origin WEIGHTS),command line)
.PHONY: $(STAMPS)/models
endif
$(STAMPS)/models: $(STAMPS)/venv $(MODEL_SOURCES)
	$(BIN)/pic-search models build --weights $(WEIGHTS) --output model_repository
	@touch $@

lint: $(STAMPS)/venv $(STUBS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Unit and integration tests; the fixtures start and stop every server they use.
# The unit lane starts no server, so it runs on both cores; the integration lane's servers
# (one Triton, one Milvus per session) are shared by every test, so it runs on one. Exit
# status 5 is a lane that PYTEST_ARGS left empty (`make test PYTEST_ARGS=tests/unit`).
test: $(STAMPS)/venv $(STAMPS)/test-models $(STAMPS)/browser $(STAMPS)/wordnet lint
	$(BIN)/pytest -m "not integration" -n 2 $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/pytest -m integration $(PYTEST_ARGS) || [ $$? -eq 5 ]

# Fakes only: no model is built (tests that need the exported models are marked `models`
# and run with the integration lane).
test-unit: $(STAMPS)/venv $(STUBS)
	$(BIN)/pytest -m "not integration" -n 2 $(PYTEST_ARGS)

run: $(STAMPS)/venv $(STUBS) $(STAMPS)/models
	$(BIN)/pic-search serve

bench: $(STAMPS)/venv $(STUBS) $(STAMPS)/models
	$(BIN)/python -m bench

# The 1M-vector HNSW benchmark (long: each index build takes tens of minutes on 2 cores).
.PHONY: bench-1m
bench-1m: $(STAMPS)/venv
	$(BIN)/python -m bench --only vector_search_1m

# A library of 10,000 photos (about 15 minutes): first screen, facets, tag search, tagging's cost.
.PHONY: bench-library
bench-library: $(STAMPS)/venv $(STAMPS)/models $(STAMPS)/browser
	$(BIN)/python -m bench --only library

# Beside a peer (about 15 minutes): Infinity serving the same CLIP, in its own environment.
# torch first, pinned as pyproject pins it: the CPU build (a bare `torch`, or infinity-emb's
# `vision`/`all` extras, pull gigabytes of CUDA wheels; where PyPI's torch is the CUDA build,
# add `PEERS_PIP="--index-url https://download.pytorch.org/whl/cpu"` for that step).
PEERS_VENV := .venv-peers
PEERS_PIP ?=
.PHONY: bench-peers
bench-peers: $(STAMPS)/venv $(STUBS) $(STAMPS)/models $(STAMPS)/peers
	$(BIN)/python -m bench --only peers

# The same with CLIP at fp32 on both sides (its own result, peers_fp32): the default models
# built again with both towers asked for at fp32, into build/fp32-models.
.PHONY: bench-peers-fp32
bench-peers-fp32: $(STAMPS)/venv $(STUBS) $(STAMPS)/peers
	$(BIN)/pic-search models build --weights $(WEIGHTS) --output build/fp32-models \
	  --cpu-runner clip_image=openvino:fp32 --cpu-runner clip_text=onnxruntime:fp32
	$(BIN)/python -m bench --only peers --model-repository build/fp32-models

$(STAMPS)/peers:
	@mkdir -p $(STAMPS)
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/pip install --quiet $(PEERS_PIP) torch==2.13.0
	$(PEERS_VENV)/bin/pip install --quiet 'infinity-emb[server,torch,optimum]==0.0.78' aiohttp==3.14.5
	@touch $@

# A few minutes of steady load: zero errors, gateway memory over time.
soak: $(STAMPS)/venv $(STAMPS)/models
	$(BIN)/python -m bench --only soak

clean:
	rm -rf $(STAMPS) $(PEERS_VENV) build .pytest_cache .mypy_cache .ruff_cache gateway/grpc/_generated
