"""A tiny random model shaped like the local SmolLM2 checkpoint (its tokenizer, chat template
and architecture, 2 layers of width 64), written where the local checkpoint would be.

For a CUDA machine that cannot take the 98 MB GGUF package: the GPU path test
(tests/trainer_gateway/test_kubernetes_gpu.py) checks that one GRPO step runs on CUDA through
the worker entrypoint, which needs a model of the right kind, not a good one.

    python tools/gpu_check/tiny_model.py SOURCE_CHECKPOINT TARGET_CACHE_DIR
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
from transformers import AutoConfig, LlamaForCausalLM

from rft_runtime.llm.model_store import checkpoint_dir

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "generation_config.json",
)


def write_tiny_model(source: Path, cache_dir: Path) -> Path:
    config = AutoConfig.from_pretrained(source)
    config.num_hidden_layers, config.hidden_size, config.intermediate_size = 2, 64, 128
    config.num_attention_heads, config.num_key_value_heads, config.head_dim = 4, 2, 16
    torch.manual_seed(0)
    target = checkpoint_dir(cache_dir)
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(target)
    for name in TOKENIZER_FILES:
        shutil.copy(source / name, target / name)
    return target


if __name__ == "__main__":
    print(write_tiny_model(Path(sys.argv[1]), Path(sys.argv[2])))
