#!/usr/bin/env bash
# Prepares what tools/gpu_check/run.sh needs on a CUDA machine with Python 3.12, PyTorch,
# transformers, peft and accelerate but no package index (the workplace's device machine):
# cp312 wheels of the rest of the worker's imports in .whl/, and a tiny model in the local
# model's place under .devcheck/models. Both folders are git-ignored; carry them.
set -euo pipefail
cd "$(dirname "$0")/../.."
py=.venv/bin/python
grep -qx '/.whl/' .git/info/exclude || echo '/.whl/' >> .git/info/exclude
grep -qx '/.devcheck/' .git/info/exclude || echo '/.devcheck/' >> .git/info/exclude
# What the worker, its tests and TRL import that the GPU image (KINDS.md's list) lacks.
missing="RapidFuzz aiokafka annotated-types async-timeout datasets dill h2 hpack httpcore2 httpx2
hyperframe kernels multiprocess pydantic pydantic-settings pydantic_core python-dotenv starlette
trl truststore typing-inspection fastapi ijson opentelemetry-api orjson python-multipart uvicorn"
pins=$($py -c 'import sys, importlib.metadata as m; print(" ".join(f"{n}=={m.version(n)}" for n in sys.argv[1:]))' $missing)
platforms=""
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64; do
  platforms="$platforms --platform $p"
done
# shellcheck disable=SC2086
$py -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  $platforms -d .whl $pins
source=$($py -c 'from rft_runtime.llm import LLMSettings; from rft_runtime.llm.model_store import ensure_checkpoint; print(ensure_checkpoint(LLMSettings().cache_dir))')
$py tools/gpu_check/tiny_model.py "$source" .devcheck/models
du -sh .whl .devcheck
