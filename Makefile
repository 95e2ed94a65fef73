PY ?= .venv/bin/python
# Every data, training and container target below is a thin call of this CLI: the behaviour
# (skipping what is unchanged, resuming from checkpoints) lives in `standard-coder pipeline`.
SC ?= $(PY) -m standard_coder
PIPELINE ?= sch
CONFIG ?= pipeline_config.toml
FORCE ?=
SIZE ?= tiny
# Extra arguments of the demo that `make deploy` runs in the container, e.g. DEMO_ARGS="--size tiny".
DEMO_ARGS ?=
OUT ?= $(CURDIR)/standard-coder-demo
INTEGRATION_DIR ?= build/integration-$(PIPELINE)
# Container: rootful or rootless podman with the vfs driver (works without overlay or fuse).
PODMAN ?= podman --storage-driver vfs
NICE ?= nice -n 15
IMAGE ?= localhost/standard-coder:cpu
LOCAL_BASE ?= localhost/debian-base:bookworm
# The pipelines' extras installed in IMAGE (all: every pipeline; the test stage always has all).
EXTRAS ?= sch,vision
# The local debootstrap base when it exists (make base-image), else the usual public base.
BASE_IMAGE ?= $(shell $(PODMAN) image exists $(LOCAL_BASE) 2>/dev/null && echo $(LOCAL_BASE) || echo python:3.11-slim)
WHEELS := build/container/wheels
# `podman run` settings that work here and elsewhere: runc when installed (crun refuses a host
# with cgroup v1 and v2 mounted side by side), no network (the demos never reach it), and
# ulimits within the host's (podman's defaults raise them, which needs CAP_SYS_RESOURCE).
RUNTIME ?= $(if $(wildcard /usr/bin/runc /usr/sbin/runc),runc,crun)
RUN_FLAGS ?= --runtime $(RUNTIME) --network none --ulimit nofile=8192:8192 --ulimit nproc=8192:8192

.PHONY: help setup init-config download-data preprocess-data validate-data resume-data train \
	train-all resume-train resume-all integration-test base-image wheels build deploy test-image \
	demo test test-fast lint format typecheck bench clean

RUN = $(SC) pipeline --config $(CONFIG)$(if $(FORCE), --force)
# Comma-separated stages of role $(1) (download, preprocess, data, train) of $(PIPELINE), from
# `standard-coder stages` (derived from the stage graph; CONFIG is read when it exists). An
# unknown pipeline, or a CONFIG of another pipeline, stops make (exit 2) after the CLI's message.
# Asked once per role and make run (memoised in _roles_ROLE).
_stages_of = $(strip $(shell $(SC) stages --pipeline $(PIPELINE) $(if $(wildcard $(CONFIG)),--config $(CONFIG)) --role $(1)))$(if $(filter 0,$(.SHELLSTATUS)),,$(error PIPELINE=$(PIPELINE) CONFIG=$(CONFIG): cannot list its stages (the CLI said why above)))
stages_of = $(if $(filter undefined,$(origin _roles_$(1))),$(eval _roles_$(1) := $$(call _stages_of,$(1))))$(_roles_$(1))
# $(call need,STAGES,ROLE): STAGES, or stop make (exit 2, also under make -n) when the pipeline
# has no stage of ROLE: the target does not apply to it, and nothing runs.
need = $(or $(1),$(error PIPELINE=$(PIPELINE) has no $(2) stage: this target does not apply to it (standard-coder stages --pipeline $(PIPELINE)$(if $(wildcard $(CONFIG)), --config $(CONFIG)) lists its stages by role)))
# $(call run_stages,ROLE,EXTRA): run the stages of ROLE.
run_stages = $(RUN) --stages $(call need,$(call stages_of,$(1)),$(1))$(2)
comma := ,
first = $(firstword $(subst $(comma), ,$(1)))
last = $(lastword $(subst $(comma), ,$(1)))

help:  ## list the targets (PIPELINE=sch|vision|..., CONFIG=pipeline_config.toml, FORCE=1)
	@echo "usage: make TARGET [PIPELINE=$(PIPELINE)] [CONFIG=$(CONFIG)] [FORCE=1]"
	@grep -E '^[a-z-]+:.*## ' $(firstword $(MAKEFILE_LIST)) | sed -E 's/^([a-z-]+):.*## /  \1\t/' | expand -t 20
	@echo "Stages each data/train target runs, by role: download-data: download, preprocess-data:"
	@echo "preprocess, validate-data and resume-data: data, train: train, train-all: data + train,"
	@echo "resume-train: train onwards, resume-all: every stage. A role with no stage: the target"
	@echo "exits 2. Per pipeline, from its default config (a config may add stages):"
	@out=$$($(SC) stages --all) && echo "$$out" | sed 's/^/  /'
	@$(if $(wildcard $(CONFIG)),echo "CONFIG=$(CONFIG):" && out=$$($(SC) stages --config $(CONFIG)) && echo "$$out" | sed 's/^/  /',true)

setup:  ## create .venv with the CPU torch wheel first, then the package and dev tools
	python3 -m venv .venv
	.venv/bin/pip install -q torch==2.13.0
	.venv/bin/pip install -q -e ".[dev,all]"

init-config:  ## write CONFIG, the commented default config of PIPELINE
	$(SC) init-config --pipeline $(PIPELINE) $(CONFIG)

download-data:  ## the data stages that read from outside the pipeline (role download)
	$(call run_stages,download)

preprocess-data:  ## the data stages fed by other stages (role preprocess)
	$(call run_stages,preprocess)

validate-data:  ## check CONFIG and say whether each data stage is up to date (writes nothing)
	$(call run_stages,data, --dry-run)

resume-data:  ## every data stage, from the last successful step (done ones are skipped)
	$(call run_stages,data)

train:  ## the training stages (role train; their data must be there)
	$(call run_stages,train)

train-all:  ## data and training stages, up to the last training stage
	$(RUN) --to $(call last,$(call need,$(call stages_of,train),train))

resume-train:  ## from the first training stage to the end, resuming from the last checkpoint
	$(RUN) --from $(call first,$(call need,$(call stages_of,train),train))

resume-all:  ## the whole pipeline: skip what is done, resume what was interrupted
	$(RUN)

integration-test:  ## the PIPELINE's demo end to end at SIZE=tiny in INTEGRATION_DIR
	$(SC) demo --pipeline $(PIPELINE) --size $(SIZE) --output-dir $(INTEGRATION_DIR)

base-image:  ## make LOCAL_BASE from Debian's packages with debootstrap (cached tarball)
	PODMAN="$(PODMAN)" BASE_IMAGE=$(LOCAL_BASE) scripts/container-base.sh

wheels:  ## the host's CPU torch wheel, every dependency of .[dev,all], the project's wheel
	mkdir -p $(WHEELS)
	$(PY) -m pip freeze --exclude-editable | grep -v '^standard-coder' > build/container/constraints.txt
	$(NICE) $(PY) -m pip download -q -d $(WHEELS) -c build/container/constraints.txt \
	  "torch==$$($(PY) -c 'import torch; print(torch.__version__)')" ".[dev,all]"
	rm -f $(WHEELS)/standard_coder-*.whl
	$(NICE) $(PY) -m pip wheel -q --no-deps --no-build-isolation -w $(WHEELS) .

build: wheels  ## build IMAGE from the Containerfile on BASE_IMAGE (podman, vfs, chroot)
	$(NICE) $(PODMAN) build --isolation chroot --layers=false --build-arg BASE_IMAGE=$(BASE_IMAGE) \
	  --build-arg EXTRAS=$(EXTRAS) -t $(IMAGE) -f Containerfile .

deploy:  ## run PIPELINE's demo in IMAGE with OUT mounted as /data
	@echo "deploy: the $(PIPELINE) demo, stages $(call stages_of,data),$(call stages_of,train)"
	@x=$$($(PODMAN) image inspect --format '{{index .Labels "standard-coder.extras"}}' $(IMAGE) \
	  2>/dev/null); case ",$$x," in ,,|*,all,*|*,$(PIPELINE),*) ;; *) m="deploy: $(IMAGE) has"; \
	  echo "$$m the extras $$x, not $(PIPELINE)'s: make build EXTRAS=$$x,$(PIPELINE) (or EXTRAS=all)" \
	  >&2; exit 2;; esac
	mkdir -p $(OUT)
	$(NICE) $(PODMAN) run --rm $(RUN_FLAGS) -v $(OUT):/data:U $(IMAGE) \
	  demo --pipeline $(PIPELINE) --output-dir /data$(if $(DEMO_ARGS), $(DEMO_ARGS))

test-image: wheels  ## build the image's test stage (every extra) and run the fast suite in it
	$(NICE) $(PODMAN) build --isolation chroot --layers=false --build-arg BASE_IMAGE=$(BASE_IMAGE) \
	  --target test -t $(IMAGE)-test -f Containerfile .
	$(NICE) $(PODMAN) run --rm $(RUN_FLAGS) $(IMAGE)-test

demo:  ## run the whole flagship pipeline on the embedded default
	$(PY) -m standard_coder demo

test:  ## the whole suite, slow tests included (what CI runs)
	$(PY) -m pytest -q -n 2 --dist loadfile $(PYTEST_FLAGS)

test-fast:  ## the suite without the slow tests
	$(PY) -m pytest -q -n 2 --dist loadfile -m "not slow"

lint:  ## ruff check and ruff format --check
	$(PY) -m ruff check src tests benchmarks examples
	$(PY) -m ruff format --check src tests benchmarks examples

format:  ## ruff format and ruff check --fix
	$(PY) -m ruff format src tests benchmarks examples
	$(PY) -m ruff check --fix src tests benchmarks examples

typecheck:  ## mypy (strict) on src
	$(PY) -m mypy

bench:  ## every benchmark prints a table and a last-line JSON
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:  ## remove build outputs, caches and the demo folder (not the image: podman rmi IMAGE)
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache standard-coder-demo benchmarks/.work
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
