"""The ONNX Runtime backend against sentence-transformers' own vectors, and model loading."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from rft_embedder import EmbedderSettings, TaskTextSource, load_embedder, task_text
from rft_embedder.models import Embedder, SentenceTransformerEmbedder, resolve_model_source
from rft_embedder.onnx_model import OnnxEmbedder, export_dir_for
from rft_embedder.settings import DEFAULT_MODEL
from rft_schemas import SanitizedPrompt
from tests.embedder.conftest import DATA


def banking_sample(count: int) -> list[str]:
    with (DATA / "intent" / "banking77" / "test.csv").open() as file:
        return [row["text"] for row in csv.DictReader(file)][:count]


def test_onnx_vectors_match_sentence_transformers_on_real_prompts(
    onnx_embedder: Embedder,
    reference_embedder: SentenceTransformerEmbedder,
    drone_prompts: list[SanitizedPrompt],
) -> None:
    texts = [task_text(p, TaskTextSource.LAST_USER_TURN) for p in drone_prompts]
    texts += [task_text(drone_prompts[0], TaskTextSource.SYSTEM_AND_TOOLS)]  # a long one
    texts += banking_sample(40)
    ours, reference = onnx_embedder.embed(texts), reference_embedder.embed(texts)
    assert ours.shape == reference.shape == (len(texts), 384)
    cosines = np.sum(ours * reference, axis=1)
    assert cosines.min() >= 0.99


def test_vectors_are_unit_length_in_input_order(onnx_embedder: Embedder) -> None:
    texts = ["I still have not received my new card, I ordered over a week ago.", "card", "hi"]
    together = onnx_embedder.embed(texts)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    # Sorting by length inside must not reorder the output.
    alone = np.vstack([onnx_embedder.embed([text]) for text in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_text_longer_than_the_model_window_is_truncated_not_refused(
    onnx_embedder: Embedder, reference_embedder: SentenceTransformerEmbedder
) -> None:
    long_text = " ".join(banking_sample(60))  # well past 256 tokens
    cosine = float(onnx_embedder.embed([long_text])[0] @ reference_embedder.embed([long_text])[0])
    assert cosine >= 0.99


def test_no_texts_give_an_empty_matrix(onnx_embedder: Embedder) -> None:
    assert onnx_embedder.embed([]).shape == (0, 384)


def test_export_is_cached_on_disk_and_the_model_loads_once(
    onnx_embedder: Embedder, model_cache: Path
) -> None:
    assert isinstance(onnx_embedder, OnnxEmbedder)
    exports = list((model_cache / "models" / "onnx").glob("*/model.onnx"))
    assert len(exports) == 1
    # The default model is BERT-like: its graph is rewritten with ONNX Runtime's fused kernels.
    assert json.loads((exports[0].parent / "meta.json").read_text())["fused"] is True
    written = exports[0].stat().st_mtime_ns
    same = EmbedderSettings(backend="onnx", onnx_cache_dir=model_cache / "models" / "onnx")
    assert load_embedder(same, model_cache) is onnx_embedder
    # A second process (a new embedder object) reuses the export instead of writing it again.
    second = OnnxEmbedder.load_or_export(
        DEFAULT_MODEL, resolve_model_source(DEFAULT_MODEL), model_cache / "models" / "onnx"
    )
    assert second is not onnx_embedder
    assert exports[0].stat().st_mtime_ns == written
    assert np.allclose(second.embed(["card arrival"]), onnx_embedder.embed(["card arrival"]))


def test_export_directory_changes_with_the_model(tmp_path: Path) -> None:
    assert export_dir_for(tmp_path, "a", "a") != export_dir_for(tmp_path, "b", "b")
    assert export_dir_for(tmp_path, "a", "a") == export_dir_for(tmp_path, "a", "a")


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


@pytest.mark.gpu
@pytest.mark.skipif(not _has_cuda(), reason="needs a CUDA device")
def test_auto_backend_runs_on_the_gpu_with_the_cpu_vectors(
    onnx_embedder: Embedder, model_cache: Path, drone_prompts: list[SanitizedPrompt]
) -> None:
    gpu = load_embedder(EmbedderSettings(backend="auto"), model_cache)
    assert isinstance(gpu, SentenceTransformerEmbedder)
    assert gpu.model.device.type == "cuda"
    texts = [task_text(p, TaskTextSource.LAST_USER_TURN) for p in drone_prompts]
    cosines = np.sum(gpu.embed(texts) * onnx_embedder.embed(texts), axis=1)
    assert cosines.min() >= 0.99
