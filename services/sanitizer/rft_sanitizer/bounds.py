"""The prompt-length bound, from the model that will be trained: its context window minus the
tokens kept for the completion, unless RFT_SANITIZER_MAX_TOKENS says otherwise.

Where the context window is read, first found wins:

1. ``RFT_SANITIZER_MAX_TOKENS``: the bound itself, as the user set it;
2. ``RFT_SANITIZER_CONTEXT_WINDOW``: a model served by an endpoint, whose files are not here;
3. the model's own config: for the local default (SmolLM2-135M-Instruct), ``config.json`` of the
   checkpoint the runtime dequantizes (``max_position_embeddings``), else the GGUF's
   ``<arch>.context_length`` that the checkpoint is converted from (the same figure; read once,
   kept beside the cached tokenizer); for a tokenizer.json path, a ``config.json`` beside it; for
   a Hugging Face name, its ``config.json`` in the local hub cache;
4. the old default, 8192, reported as such.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from rft_sanitizer.settings import DEFAULT_MAX_TOKENS, SanitizerSettings
from rft_sanitizer.tokens import SMOLLM2, smollm2_gguf_path
from rft_schemas.traces import TokenBound

log = logging.getLogger(__name__)


def resolve_token_bound(settings: SanitizerSettings) -> TokenBound:
    budget = settings.completion_budget
    if settings.max_tokens is not None:
        return TokenBound(
            min_tokens=settings.min_tokens,
            max_tokens=settings.max_tokens,
            source="setting",
            detail="RFT_SANITIZER_MAX_TOKENS",
        )
    if settings.context_window is not None:
        return _from_window(
            settings, settings.context_window, "context_window_setting",
            "RFT_SANITIZER_CONTEXT_WINDOW",
        )
    found = model_context_window(settings.tokenizer, settings.tokenizer_cache_dir())
    if found is not None:
        window, where = found
        return _from_window(settings, window, "model_config", where)
    return TokenBound(
        min_tokens=settings.min_tokens,
        max_tokens=DEFAULT_MAX_TOKENS,
        source="default",
        completion_budget=budget,
        detail=f"no context window known for tokenizer {settings.tokenizer!r}: set "
        "RFT_SANITIZER_CONTEXT_WINDOW (or RFT_SANITIZER_MAX_TOKENS)",
    )


def _from_window(
    settings: SanitizerSettings, window: int, source: str, where: str
) -> TokenBound:
    budget = settings.completion_budget
    if window <= budget:
        raise ValueError(
            f"context window {window} ({where}) leaves no room for a prompt beside "
            f"completion_budget={budget}"
        )
    return TokenBound(
        min_tokens=settings.min_tokens,
        max_tokens=window - budget,
        source=source,
        context_window=window,
        completion_budget=budget,
        detail=f"{window} ({where}) - {budget} (completion_budget)",
    )


def model_context_window(tokenizer: str, cache_dir: Path) -> tuple[int, str] | None:
    """(context window, where it was read) of the model the tokenizer setting names."""
    if tokenizer == SMOLLM2:
        return _local_model_window(cache_dir)
    path = Path(tokenizer)
    if path.suffix == ".json" and path.is_file():
        return _config_window(path.parent / "config.json")
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(tokenizer, "config.json")
    return _config_window(Path(found)) if isinstance(found, str) else None


def _config_window(config: Path) -> tuple[int, str] | None:
    try:
        values: dict[str, Any] = json.loads(config.read_text())
    except (OSError, ValueError):
        return None
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        if isinstance(values.get(key), int):
            return values[key], f"{config}: {key}"
    return None


def _local_model_window(cache_dir: Path) -> tuple[int, str] | None:
    from rft_runtime.llm.model_store import checkpoint_dir
    from rft_runtime.llm.settings import LLMSettings

    checkpoint = _config_window(checkpoint_dir(LLMSettings().cache_dir) / "config.json")
    if checkpoint is not None:
        return checkpoint
    kept = cache_dir / f"{SMOLLM2}.context.json"
    if kept.is_file():
        try:
            value = json.loads(kept.read_text())
            return int(value["context_length"]), str(value["where"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    from gguf import GGUFReader  # seconds to open: once, then the value is kept

    gguf = smollm2_gguf_path()
    fields = GGUFReader(str(gguf)).fields
    arch = fields["general.architecture"].contents()
    key = f"{arch}.context_length"
    if key not in fields:
        log.warning("no %s in %s", key, gguf.name)
        return None
    window = int(fields[key].contents())
    where = f"{gguf.name}: {key}"
    kept.parent.mkdir(parents=True, exist_ok=True)
    tmp = kept.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"context_length": window, "where": where}))
    tmp.replace(kept)
    return window, where
