#!/usr/bin/env bash
# The CUDA path of step I (tests/trainer_gateway/test_kubernetes_gpu.py) on a machine that has
# PyTorch with CUDA but no package index and no room for the 98 MB GGUF (tools/gpu_check/
# prepare.sh made .whl and .devcheck here; carry both). The local model's place holds a tiny
# random model of the same kind, so the test checks the path, not the model.
# --noconftest: the suite's conftests load the local Kafka broker's package, which this test
# does not use.
set -o pipefail
out=${OUT:-/tmp}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
root=$PWD
PYTHONPATH=/tmp/site:$root:$root/schemas:$root/cli
for d in services/*/; do PYTHONPATH=$PYTHONPATH:$root/$d; done
export PYTHONPATH RFT_LLM_CACHE_DIR=$root/.devcheck/models HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
nvidia-smi -L
python3 -c "import torch, transformers, trl, peft, accelerate as a; print('torch', torch.__version__,
'transformers', transformers.__version__, 'trl', trl.__version__, 'peft', peft.__version__,
'accelerate', a.__version__, 'cuda', torch.cuda.is_available())"
python3 -m pytest -p no:cacheprovider --noconftest -q -rs --basetemp=/tmp/pt \
  tests/trainer_gateway/test_kubernetes_gpu.py 2>&1 | tee "$out/gpu_test.log"
