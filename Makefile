# Two commands do everything on a fresh machine:  `make run`  and  `make test`.
# Stamps under .stamps/ make re-runs skip installs and model builds when nothing changed.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
TEST_MODELS := build/test-models
MODEL_SOURCES := $(wildcard gateway/export/*.py) gateway/models/spec.py gateway/models/clip_tokenizer.py
WEIGHTS ?= auto
PYTEST_ARGS ?=
# picsearch.v1's Python stubs: generated from the proto, never committed.
PROTOS := $(wildcard gateway/grpc/proto/picsearch/v1/*.proto)
STUBS := gateway/grpc/_generated/picsearch/v1/picsearch_pb2_grpc.py

.PHONY: install stubs models test-models browser lint test test-unit run bench bench-full soak clean

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

# Seeded random weights: what the tests use (nothing downloads at test time).
test-models: $(STAMPS)/test-models
$(STAMPS)/test-models: $(STAMPS)/venv $(MODEL_SOURCES)
	$(BIN)/pic-search models build --weights random --output $(TEST_MODELS)
	@touch $@

# The local stack's models: pretrained when reachable (WEIGHTS=auto), else seeded random.
models: $(STAMPS)/models
$(STAMPS)/models: $(STAMPS)/venv $(MODEL_SOURCES)
	@if [ "$(WEIGHTS)" = auto ]; then \
	  $(BIN)/pic-search models build --weights pretrained --output model_repository \
	  || { echo; echo "*** Pretrained weights unreachable: using SEEDED RANDOM weights."; \
	       echo "*** Search then finds near-duplicates only; text search is not meaningful."; echo; \
	       $(BIN)/pic-search models build --weights random --output model_repository; }; \
	else $(BIN)/pic-search models build --weights $(WEIGHTS) --output model_repository; fi
	@touch $@

lint: $(STAMPS)/venv $(STUBS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Unit and integration tests; the fixtures start and stop every server they use.
test: $(STAMPS)/venv $(STAMPS)/test-models $(STAMPS)/browser lint
	$(BIN)/pytest $(PYTEST_ARGS)

# "Unit" includes the exported graphs' own tests, so it needs the test models too.
test-unit: $(STAMPS)/venv $(STUBS) $(STAMPS)/test-models
	$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

run: $(STAMPS)/venv $(STUBS) $(STAMPS)/models
	$(BIN)/pic-search serve

bench: $(STAMPS)/venv $(STUBS) $(STAMPS)/models
	$(BIN)/python -m bench

# The 1M-vector HNSW benchmark (long: each index build takes tens of minutes on 2 cores).
.PHONY: bench-1m
bench-1m: $(STAMPS)/venv
	$(BIN)/python -m bench --only vector_search_1m

# A few minutes of steady load: zero errors, gateway memory over time.
soak: $(STAMPS)/venv $(STAMPS)/models
	$(BIN)/python -m bench --only soak

clean:
	rm -rf $(STAMPS) build .pytest_cache .mypy_cache .ruff_cache gateway/grpc/_generated
