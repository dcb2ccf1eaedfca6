# One-command workflows. By default everything runs in a local virtualenv (.venv);
# DOCKER=1 runs repro/test/bench/jupyter in the CPU image, DOCKER=gpu in the GPU image.
# Docker is never required: build, build-gpu, sh and stop are the only Docker-only targets.
VENV      ?= .venv
IMAGE     ?= posenc:cpu
GPU_IMAGE ?= posenc:gpu
PORT      ?= 8888
DOCKER    ?=
TEST_WORKERS ?= 2
# bench-study measures bf16 at the training length only (the report's bf16 column): without native bf16 it
# runs ~10x slower than float32, and at every length it would be most of the benchmark's time
BENCH_STUDY_ARGS ?= --bf16-lengths 256
JUPYTER   := posenc-jupyter

ifeq ($(IN_DOCKER),1)          # set by the images: their environment is already installed
PY    := python
SETUP :=
else
PY    := $(VENV)/bin/python
SETUP := setup
export PATH := $(abspath $(VENV))/bin:$(PATH)
endif

# docker run with the repo at /workspace as the calling user (files stay the host user's),
# and IMDB_ARCHIVE's folder mounted read-only when it is set.
ifeq ($(DOCKER),gpu)
RUN_IMAGE := $(GPU_IMAGE)
GPU_FLAG  := --gpus all
else
RUN_IMAGE := $(IMAGE)
GPU_FLAG  :=
endif
DOCKER_RUN = docker run --rm $(GPU_FLAG) --user "$$(id -u):$$(id -g)" -e HOME=/tmp \
	-v "$(CURDIR)":/workspace -w /workspace \
	$(if $(IMDB_ARCHIVE),-v "$(abspath $(dir $(IMDB_ARCHIVE)))":/imdb:ro -e IMDB_ARCHIVE=/imdb/$(notdir $(IMDB_ARCHIVE)))

.PHONY: help setup repro test quick study bench bench-study readme build build-gpu jupyter sh stop clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  DOCKER=1 (CPU image) or DOCKER=gpu runs repro, test, bench and jupyter in Docker"

setup: $(VENV)/.installed  ## create .venv and install the pinned requirements

$(VENV)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

ifneq ($(DOCKER),)
repro test bench bench-study:
	$(DOCKER_RUN) $(RUN_IMAGE) make $@ DOCKER=
else
repro: $(SETUP)  ## run the whole default pipeline (dvc repro), record its run-cache, refresh the README tables
	dvc repro
	$(PY) -m posenc.runcache
	$(PY) stages/readme.py

test: $(SETUP)  ## run the test suite, one test file per worker (TEST_WORKERS=0: in this process)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

quick: $(SETUP)  ## the whole pipeline on a tiny configuration, in a folder it prints (never touches the results)
	$(PY) -m posenc.quick

study: $(SETUP)  ## the study configuration (study/params.yaml) in a kept workspace (STUDY_DIR); results -> study/
	$(PY) -m posenc.study $(STAGES)

bench: $(SETUP)  ## measure the cost of every PE, float32 and bf16 -> bench/profile.json, then refresh REPORT.md
	$(PY) bench/cost.py
	if [ -f metrics/results.json ]; then dvc repro --force --single-item report; fi

bench-study: $(SETUP)  ## the same for every PE of study/params.yaml -> study/profile.json, then refresh REPORT.md
	$(PY) bench/cost.py --params study/params.yaml --out study/profile.json $(BENCH_STUDY_ARGS)
	if [ -f metrics/results.json ]; then dvc repro --single-item report; fi
endif

readme: $(SETUP)  ## refresh the README results tables from metrics/results.json
	$(PY) stages/readme.py

build:  ## build the CPU image (posenc:cpu, from Dockerfile)
	docker build -t $(IMAGE) -f Dockerfile .

build-gpu:  ## build the GPU image (posenc:gpu, from Dockerfile.gpu)
	docker build -t $(GPU_IMAGE) -f Dockerfile.gpu .

# JupyterLab only on 127.0.0.1, with a fresh random token; the URL to open is printed. The token travels in
# the environment (JUPYTER_TOKEN), never on a command line that `ps` shows to other users. Jupyter refuses
# to run as root; ALLOW_ROOT=1 is the explicit opt-in (for example in a root-only container).
ROOT_FLAG := $(if $(ALLOW_ROOT),--allow-root)
ifneq ($(DOCKER),)
jupyter:
	@export JUPYTER_TOKEN=$$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))'); \
	docker run -d --name $(JUPYTER) $(GPU_FLAG) --user "$$(id -u):$$(id -g)" -e HOME=/tmp -e JUPYTER_TOKEN \
		-v "$(CURDIR)":/workspace -w /workspace -p 127.0.0.1:$(PORT):8888 $(RUN_IMAGE) \
		jupyter lab --ip=0.0.0.0 --port=8888 --no-browser $(ROOT_FLAG) >/dev/null && \
	echo "JupyterLab (container $(JUPYTER)): http://127.0.0.1:$(PORT)/lab/tree/notebooks?token=$$JUPYTER_TOKEN  (make stop ends it)"
else
jupyter: $(SETUP)  ## JupyterLab on 127.0.0.1 with a random token (DOCKER=1: in a container; ALLOW_ROOT=1 as root)
	$(PY) -m pip install -q -r requirements-jupyter.txt
	@export JUPYTER_TOKEN=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(24))'); \
	echo "JupyterLab: http://127.0.0.1:$(PORT)/lab/tree/notebooks?token=$$JUPYTER_TOKEN  (Ctrl-C ends it)"; \
	$(PY) -m jupyter lab --ip=127.0.0.1 --port=$(PORT) --no-browser $(ROOT_FLAG)
endif

sh:  ## a shell in the image, the repo mounted at /workspace (DOCKER=gpu: the GPU image)
	docker run --rm -it $(GPU_FLAG) --user "$$(id -u):$$(id -g)" -e HOME=/tmp \
		-v "$(CURDIR)":/workspace -w /workspace $(RUN_IMAGE) bash

stop:  ## stop the JupyterLab container started by `make jupyter DOCKER=1`
	docker rm -f $(JUPYTER)

clean:  ## remove the virtualenv and caches (keeps data/, models/, metrics/ and the DVC cache)
	rm -rf $(VENV) .pytest_cache src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
