"""The categorizer service runs without a model: none of its modules imports torch or the
embedder, it refuses to start with neither the embedder service's URL nor an embedder handed in,
and with the URL alone it embeds its topic texts through the embedder service, deciding as the
in-process model does. (The generator's side: tests/generator/test_embedder_boundary.py.)"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rft_categorizer.service import EmbedderNotConfigured, build_service
from rft_categorizer.settings import CategorizerSettings
from rft_embedder import Embedder, EmbedderSettings, embed_prompts
from rft_runtime.embedding.http import HttpEmbedder
from rft_runtime.vectorstore.edge import EdgeVectorStore
from rft_schemas.topics import CategorizedPrompt
from rft_schemas.traces import SanitizedPrompt
from tests.categorizer_service.fixtures import DRONE_TOPICS, as_dataset
from tests.categorizer_service.http_server import served
from tests.generator.embedder_service import embedder_service

HEAVY = ("torch", "sentence_transformers", "transformers", "onnxruntime", "rft_embedder")
DATASET = "drone-remote-embedder"


def test_no_module_of_the_service_imports_a_model_package() -> None:
    """Every module of rft_categorizer (what `python -m rft_categorizer` starts, its routes, its
    stage, and the CLI's batch driver, which is handed the embedding step)."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import rft_categorizer\n"
        "names = [m.name for m in pkgutil.walk_packages(rft_categorizer.__path__, "
        "'rft_categorizer.')]\n"
        "assert 'rft_categorizer.service' in names and 'rft_categorizer.batch' in names, names\n"
        "for name in names: importlib.import_module(name)\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported: {done.stdout.strip()}"


def test_without_an_embedder_or_its_url_the_service_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(EmbedderNotConfigured, match="RFT_CATEGORIZER_EMBEDDER_URL"):
        build_service(CategorizerSettings(data_dir=tmp_path, log_json=False))


def test_the_url_is_read_from_rft_categorizer_embedder_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RFT_CATEGORIZER_EMBEDDER_URL", "http://embedder.rft.svc:8000")
    assert CategorizerSettings().categorizer_embedder_url == "http://embedder.rft.svc:8000"


def _decisions(records: list[CategorizedPrompt | None]) -> dict[str, tuple[tuple[str, ...], float]]:
    assert all(r is not None for r in records)
    return {r.prompt.id: (tuple(r.topic_path), r.confidence) for r in records if r is not None}


async def test_with_the_url_alone_it_embeds_topic_texts_through_the_embedder_service(
    embedder: Embedder, drone_prompts: list[SanitizedPrompt], tmp_path: Path
) -> None:
    """One store (the embedder wrote the prompts' vectors), two categorizers: one handed the
    model (the colocated process, the CLI), one given only the embedder service's URL (the
    cluster). The same hierarchy put over HTTP makes the same decisions."""
    store = EdgeVectorStore(tmp_path / "qdrant")
    embedded = embed_prompts(as_dataset(drone_prompts, DATASET), embedder, store,
                             EmbedderSettings()).embedded
    local_settings = CategorizerSettings(data_dir=tmp_path / "local", log_json=False)
    local, _, _ = build_service(local_settings, store=store, embedder=embedder)
    try:
        async with embedder_service(embedder, tmp_path) as url:
            remote_settings = CategorizerSettings(data_dir=tmp_path / "remote", log_json=False,
                                                  categorizer_embedder_url=url)
            remote, _, _ = build_service(remote_settings, store=store)
            assert isinstance(remote.state.topics.runner.embedder, HttpEmbedder)
            answers = []
            for app, settings in ((local, local_settings), (remote, remote_settings)):
                app.state.topics.categorize_embedded(embedded)  # no hierarchy yet: they wait
                async with served(app, settings) as http:
                    put = await http.put(f"/v1/datasets/{DATASET}/topics", json=DRONE_TOPICS)
                    assert put.status_code == 200, put.text
                answers.append(_decisions(
                    [s.categorized for s in app.state.topics.records.prompts(DATASET)]))
            hierarchy = remote.state.topics.hierarchies.current(DATASET)
            # in a thread: the embedder service answers in this event loop
            by_service = await asyncio.to_thread(remote.state.topics.runner.leaf_vectors,
                                                 hierarchy)
            in_process = local.state.topics.runner.leaf_vectors(hierarchy)
    finally:
        store.close()

    assert remote.state.topics.runner.embedder.name == embedder.name  # the keys agree
    assert by_service.keys() == in_process.keys()
    for path, vectors in in_process.items():
        assert np.allclose(by_service[path], vectors, atol=1e-5), path
    local_answer, remote_answer = answers
    assert len(local_answer) == len(embedded) and local_answer.keys() == remote_answer.keys()
    for prompt_id, (path, confidence) in local_answer.items():
        assert remote_answer[prompt_id][0] == path, prompt_id
        assert remote_answer[prompt_id][1] == pytest.approx(confidence, abs=1e-5), prompt_id
