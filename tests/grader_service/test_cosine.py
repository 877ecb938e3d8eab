"""The cosine metric through the platform's embedder: its service over HTTP, or the model in
this process on one machine; an embedder that is down is that sample's error."""

from __future__ import annotations

from pathlib import Path

from rft_embedder import Embedder
from rft_embedder.service import build_service as build_embedder
from rft_grader import Sample, build_grader
from rft_grader.embedding import LocalEmbedder, configured_embedder
from rft_grader.settings import GraderSettings
from rft_runtime.processes import free_port
from rft_runtime.settings import RuntimeSettings
from rft_runtime.vectorstore.edge import EdgeVectorStore
from tests.categorizer_service.fixtures import embedder, model_dir  # noqa: F401 - fixtures
from tests.categorizer_service.http_server import served

COSINE = {"type": "text_similarity", "name": "close", "evaluation_metric": "cosine",
          "input": "{{sample.output_text}}", "reference": "{{item.reference}}"}
ITEM = {"reference": "I forgot my password, how can I change it?"}


async def test_cosine_goes_through_the_embedder_service_over_http(
    embedder: Embedder, tmp_path: Path  # noqa: F811 - the fixture
) -> None:
    app, _, settings = build_embedder(
        RuntimeSettings(data_dir=tmp_path, log_json=False),
        store=EdgeVectorStore(tmp_path / "qdrant"), embedder=embedder,
    )
    async with served(app, settings) as http:
        grader_settings = GraderSettings(grader_embedder_url=str(http.base_url))
        grader = build_grader(COSINE, settings=grader_settings)
        close = await grader(Sample("How do I reset my password?"), ITEM)
        far = await grader(Sample("What is the weather in Paris tomorrow?"), ITEM)
    assert not close.errors.any() and not far.errors.any()
    assert 0.5 < close.reward <= 1.0 and close.reward > far.reward + 0.3


async def test_without_a_url_the_model_is_loaded_in_this_process(tmp_path: Path) -> None:
    settings = GraderSettings(data_dir=tmp_path)
    assert isinstance(configured_embedder(settings), LocalEmbedder)  # the CLI's machine


async def test_an_embedder_service_that_is_down_is_a_grader_error_for_the_sample() -> None:
    settings = GraderSettings(grader_embedder_url=f"http://127.0.0.1:{free_port()}")
    result = await build_grader(COSINE, settings=settings)(Sample("hello"), ITEM)
    assert result.reward == 0.0 and result.errors.other_error
    assert "embedder service at" in result.error_details[0]
