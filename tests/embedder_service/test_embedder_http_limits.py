"""POST /v1/embed at its limits: too many texts, a text too long, a body too large: each is
refused with what is wrong, and no answer echoes the input. Real HTTP on loopback."""

from __future__ import annotations

from pathlib import Path

from rft_embedder import Embedder
from rft_embedder.service import build_service
from rft_embedder.settings import EmbedderSettings
from rft_runtime.settings import RuntimeSettings
from rft_runtime.vectorstore.edge import EdgeVectorStore
from tests.categorizer_service.http_server import served


async def test_oversized_embed_requests_are_refused_with_the_error_not_the_input(
    embedder: Embedder, tmp_path: Path
) -> None:
    runtime = RuntimeSettings(data_dir=tmp_path, log_json=False)
    settings = EmbedderSettings(
        http_max_texts=100, http_max_text_chars=1000, http_max_request_bytes=64 * 1024
    )
    app, _, _ = build_service(
        runtime, settings, store=EdgeVectorStore(tmp_path / "qdrant"), embedder=embedder
    )
    async with served(app, runtime) as http:
        many = await http.post("/v1/embed", json={"texts": ["hi"] * 5000})
        long_one = await http.post("/v1/embed", json={"texts": ["ok", "y" * 1001]})
        huge = await http.post("/v1/embed", json={"texts": ["z" * 70_000]})
        not_texts = await http.post("/v1/embed", json={"texts": list(range(8_000))})
        fine = await http.post("/v1/embed", json={"texts": ["y" * 1000] * 3})
    assert many.status_code == 422 and len(many.content) < 1000
    assert many.json()["detail"][0]["loc"] == ["body", "texts"]
    assert "at most 100 texts" in many.json()["detail"][0]["msg"]
    assert long_one.status_code == 422
    [error] = long_one.json()["detail"]
    assert error["loc"] == ["body", "texts", 1] and "at most 1000 characters" in error["msg"]
    assert huge.status_code == 413 and "larger than the limit" in huge.json()["detail"]
    # 8,000 errors: a bounded answer that counts them all
    assert not_texts.status_code == 422 and len(not_texts.content) < 5000
    assert not_texts.json()["errors_total"] == 8_000
    assert fine.status_code == 200 and len(fine.json()["vectors"]) == 3
