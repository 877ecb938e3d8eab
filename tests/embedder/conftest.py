"""Real prompts from examples/data, the embedder exported once per test session, both stores."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from rft_embedder import EmbedderSettings, load_embedder
from rft_embedder.models import (
    Embedder,
    SentenceTransformerEmbedder,
    load_sentence_transformer,
    resolve_model_source,
)
from rft_runtime.vectorstore import VectorStore
from rft_schemas import Lineage, Message, SanitizedPrompt, SourceLocation, ToolSpec, TraceFormat
from tests.vectorstore.conftest import open_store

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"


def prompts_from_chat_file(name: str, dataset: str) -> list[SanitizedPrompt]:
    """One prompt per record: its messages up to and including its last user turn."""
    prompts = []
    path = DATA / name
    for line_number, line in enumerate(path.read_text().splitlines(), start=1):
        record = json.loads(line)
        messages = [Message.model_validate(m) for m in record["messages"]]
        users = [i for i, m in enumerate(messages) if m.role == "user"]
        if not users:
            continue  # the sanitizer rejects a record without a user turn
        tools = [ToolSpec.model_validate(t) for t in record.get("tools") or []] or None
        prompts.append(
            SanitizedPrompt(
                id=f"{dataset}-{line_number}",
                dataset=dataset,
                messages=messages[: users[-1] + 1],
                tools=tools,
                token_count=sum(len(m.text().split()) for m in messages[: users[-1] + 1]),
                lineage=Lineage(
                    dataset=dataset,
                    trace_id=f"{name}:{line_number}",
                    source=SourceLocation(uri=str(path), line=line_number),
                    format=TraceFormat.OPENAI_CHAT,
                    cut_at_message=users[-1],
                ),
            )
        )
    return prompts


@pytest.fixture(scope="session")
def drone_prompts() -> list[SanitizedPrompt]:
    return prompts_from_chat_file("drone_training.jsonl", "drone")


@pytest.fixture(scope="session")
def toy_prompts() -> list[SanitizedPrompt]:
    return prompts_from_chat_file("toy_chat_fine_tuning.jsonl", "toy")


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rft-data")


@pytest.fixture(scope="session")
def onnx_embedder(model_cache: Path) -> Embedder:
    settings = EmbedderSettings(backend="onnx", onnx_cache_dir=model_cache / "models" / "onnx")
    return load_embedder(settings, model_cache)


@pytest.fixture(scope="session")
def reference_embedder() -> SentenceTransformerEmbedder:
    model = load_sentence_transformer(resolve_model_source("all-MiniLM-L6-v2"), "cpu")
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2", model)


@pytest.fixture(params=["edge", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    opened = open_store(request.param, tmp_path)
    yield opened
    opened.close()


class RememberingEmbedder:
    """The real embedder, remembering vectors by text so that tests do not embed twice."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self._seen: dict[str, np.ndarray] = {}
        self.texts_embedded = 0

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimensions(self) -> int:
        return self._inner.dimensions

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        new = [text for text in dict.fromkeys(texts) if text not in self._seen]
        if new:
            self._seen.update(zip(new, self._inner.embed(new), strict=True))
            self.texts_embedded += len(new)
        return np.vstack([self._seen[text] for text in texts]).astype(np.float32)


@pytest.fixture(scope="session")
def embedder(onnx_embedder: Embedder) -> RememberingEmbedder:
    return RememberingEmbedder(onnx_embedder)
