"""The ONNX Runtime backend: a sentence-transformers model exported once, run without torch.

The exported graph holds the transformer, the pooling and the normalization, so ONNX Runtime
returns finished vectors. Texts are tokenized once, sorted by token length and batched, so a
batch pads to its own longest text rather than to the longest text overall.

``optimum`` is not used on purpose: installing ``optimum[onnxruntime]`` downgrades transformers
and breaks sentence-transformers; ``torch.onnx.export`` needs nothing beyond torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from rft_embedder.encoding import Vectors, load_sentence_transformer, window_prefix

log = logging.getLogger(__name__)

# ONNX Runtime logs a warning per unused initializer of the traced graph at each session start.
ort.set_default_logger_severity(3)

# Bump when the exported graph changes, so older cached exports are not reused.
EXPORT_VERSION = 2
_POOLING_MODES = ("mean", "cls", "max")
_MODULE_KINDS = {"Transformer", "Pooling", "Normalize"}
# Encoders whose graphs ONNX Runtime's "bert" optimizer knows how to fuse.
_FUSABLE_MODEL_TYPES = {"bert", "roberta", "xlm-roberta", "distilbert"}


class UnsupportedModelError(ValueError):
    """The model has modules or a pooling the exported graph does not reproduce."""


def export_fingerprint(name: str, source: str) -> str:
    """What identifies an export: the model name, and for a directory its files and sizes."""
    digest = hashlib.sha256(f"{EXPORT_VERSION}\n{name}\n{source}".encode())
    path = Path(source)
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            if file.is_file():
                digest.update(f"{file.relative_to(path)}:{file.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


def export_dir_for(cache_dir: Path, name: str, source: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[-60:]
    return cache_dir / f"{slug}-{export_fingerprint(name, source)}"


def export_model(source: str, target: Path) -> Path:
    """Export a sentence-transformers model to ``target`` (model.onnx, tokenizer.json, meta.json).

    Writes into a temporary directory next to ``target`` and renames it, so a process that
    reads the cache never sees half an export, and two exporting processes do not collide.
    """
    import torch

    # Eager attention traces to plain MatMul/Softmax nodes, which ONNX Runtime's transformer
    # optimizer fuses into its Attention kernel; the SDPA path traces to a graph it cannot fuse.
    model = load_sentence_transformer(source, "cpu", {"attn_implementation": "eager"})
    kinds = [type(module).__name__ for module in model]
    if not set(kinds) <= _MODULE_KINDS or kinds[:2] != ["Transformer", "Pooling"]:
        raise UnsupportedModelError(f"{source}: modules {kinds}")
    pooling = str(model[1].pooling_mode)
    if pooling not in _POOLING_MODES:
        raise UnsupportedModelError(f"{source}: pooling {pooling!r}")
    if getattr(model[0], "do_lower_case", False):
        raise UnsupportedModelError(f"{source}: lower-casing outside the tokenizer")
    tokenizer = model.tokenizer
    transformer = model[0].auto_model.eval()
    uses_token_types = "token_type_ids" in tokenizer.model_input_names
    input_names = ["input_ids", "attention_mask"] + (
        ["token_type_ids"] if uses_token_types else []
    )

    class PooledEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            hidden = self.transformer(**dict(zip(input_names, inputs, strict=True)))[0]
            mask = inputs[1].unsqueeze(-1).to(hidden.dtype)
            if pooling == "cls":
                pooled = hidden[:, 0]
            elif pooling == "max":
                pooled = (hidden + (mask - 1.0) * 1e9).max(dim=1).values
            else:
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    sample = tokenizer(["an example", "a longer second example"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in input_names}
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # The tracer warns about Python branches on shapes in transformers' code; the graph
            # is checked against sentence-transformers' vectors by the tests instead.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                PooledEncoder().eval(),
                tuple(sample[name] for name in input_names),
                str(staging / "model.onnx"),
                input_names=input_names,
                output_names=["embedding"],
                dynamic_axes={**axes, "embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        fused = fuse_transformer_ops(staging / "model.onnx", transformer.config)
        tokenizer.backend_tokenizer.save(str(staging / "tokenizer.json"))
        meta = {
            "export_version": EXPORT_VERSION,
            "source": source,
            "input_names": input_names,
            "max_seq_length": int(model.max_seq_length),
            "dimensions": int(model.get_embedding_dimension()),
            "pad_id": int(tokenizer.pad_token_id or 0),
            "pooling": pooling,
            "fused": fused,
        }
        (staging / "meta.json").write_text(json.dumps(meta, indent=2))
        try:
            os.replace(staging, target)
        except OSError:
            if not (target / "meta.json").exists():
                raise
            # Another process finished the same export first; its files are as good.
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def fuse_transformer_ops(path: Path, config: Any) -> bool:
    """Rewrite the graph with ONNX Runtime's fused transformer kernels, in place.

    Fusing attention, embedding + layer norm and bias + GELU gave about 1.5-2x on the CPU with
    cosine 0.999999 to the unfused graph (all-MiniLM-L6-v2). Architectures the optimizer does
    not know keep the plain graph.
    """
    if str(getattr(config, "model_type", "")) not in _FUSABLE_MODEL_TYPES:
        return False
    from onnxruntime.transformers.optimizer import optimize_model

    try:
        optimized = optimize_model(
            str(path),
            model_type="bert",
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
            opt_level=1,
        )
        optimized.save_model_to_file(str(path))
    except Exception as error:  # the plain graph is correct; fusion is only a speed-up
        log.warning("ONNX fusion skipped: %s", error)
        return False
    return True


class OnnxEmbedder:
    def __init__(
        self, name: str, export_dir: Path, batch_size: int = 32, threads: int | None = None
    ) -> None:
        self._name = name
        self._meta: dict[str, Any] = json.loads((export_dir / "meta.json").read_text())
        self._batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=int(self._meta["max_seq_length"]))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(
            str(export_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )

    @classmethod
    def load_or_export(
        cls,
        name: str,
        source: str,
        cache_dir: Path,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> OnnxEmbedder:
        target = export_dir_for(cache_dir, name, source)
        if not (target / "meta.json").exists():
            log.info("exporting the embedding model to ONNX", extra={"model": name})
            export_model(source, target)
        return cls(name, target, batch_size, threads)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimensions(self) -> int:
        return int(self._meta["dimensions"])

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        window = int(self._meta["max_seq_length"])
        encodings = self._tokenizer.encode_batch(
            [window_prefix(text, self._tokenizer, window) for text in texts]
        )
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        order = np.argsort(lengths, kind="stable")
        names = self._meta["input_names"]
        pad_id = int(self._meta["pad_id"])
        for start in range(0, len(texts), self._batch_size):
            batch = order[start : start + self._batch_size]
            width = int(lengths[batch].max())
            ids = np.full((len(batch), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            types = np.zeros((len(batch), width), dtype=np.int64)
            for row, index in enumerate(batch):
                encoding = encodings[index]
                size = len(encoding.ids)
                ids[row, :size] = encoding.ids
                mask[row, :size] = 1
                types[row, :size] = encoding.type_ids
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            out[batch] = self._session.run(None, {n: feeds[n] for n in names})[0]
        return out
