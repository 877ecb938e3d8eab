"""``POST /v1/datasets/{dataset}/topics:classify`` over real HTTP: step C's decision for vectors
that are not in the store (step E's candidates, in the cluster), computed by the code that
``rft generate`` runs in process (``CategorizerTopicChecker``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rft_categorizer.categorize import CategorizerTopicChecker
from rft_categorizer.service import build_service
from rft_categorizer.settings import CategorizerSettings
from rft_embedder import Embedder, EmbedderSettings, embed_prompts
from rft_runtime.vectorstore.edge import EdgeVectorStore
from rft_schemas.topics import CLASSIFY_MAX_ROWS, TopicClassifyResponse
from rft_schemas.traces import SanitizedPrompt
from tests.categorizer_service.fixtures import DRONE_TOPICS, as_dataset
from tests.categorizer_service.http_server import served

DATASET = "drone-classify"

CANDIDATES = [
    "Snap a wide panorama photo of the valley below us",
    "Start recording a slow motion video of the sunset",
    "Make the drone lights blink green and blue",
    "Fly the drone twenty feet higher and then hover",
    "What is the best recipe for banana bread?",
]


async def test_classify_answers_step_c_decision_as_the_cli_checker_does(
    embedder: Embedder, drone_prompts: list[SanitizedPrompt], tmp_path: Path
) -> None:
    store = EdgeVectorStore(tmp_path / "qdrant")
    settings = CategorizerSettings(data_dir=tmp_path, log_json=False)
    app, _, _ = build_service(settings, store=store, embedder=embedder)
    topics = app.state.topics
    embedded = embed_prompts(as_dataset(drone_prompts, DATASET), embedder, store,
                             EmbedderSettings())
    topics.categorize_embedded(embedded.embedded)  # no hierarchy yet: they wait
    vectors = np.vstack([
        np.asarray(embedder.embed(CANDIDATES), dtype=np.float32),
        topics.runner.vectors(DATASET, [e.point_id for e in embedded.embedded[:3]]),
    ])
    url = f"/v1/datasets/{DATASET}/topics:classify"
    try:
        async with served(app, settings) as http:
            body = {"vectors": vectors.tolist()}
            missing = await http.post(url, json=body)
            assert missing.status_code == 404, missing.text
            assert "no topic hierarchy" in missing.text

            put = await http.put(f"/v1/datasets/{DATASET}/topics", json=DRONE_TOPICS)
            assert put.status_code == 200, put.text

            answer = await http.post(url, json=body)
            assert answer.status_code == 200, answer.text
            got = TopicClassifyResponse.model_validate(answer.json())
            again = TopicClassifyResponse.model_validate((await http.post(url, json=body)).json())

            short = await http.post(url, json={"vectors": [[0.1, 0.2, 0.3]]})
            assert short.status_code == 422 and "dimensions" in short.text
            ragged = await http.post(url, json={"vectors": [vectors[0].tolist(), [0.5]]})
            assert ragged.status_code == 422
            too_many = await http.post(url, json={"vectors": [[0.0]] * (CLASSIFY_MAX_ROWS + 1)})
            assert too_many.status_code == 422
            empty = await http.post(url, json={"vectors": []})
            assert empty.status_code == 200 and empty.json()["decisions"] == []

        # What the CLI's `rft generate` decides in process: step C's classifier fitted on the
        # hierarchy with the dataset's vectors as its pool, and step C's rules.
        hierarchy = topics.hierarchies.current(DATASET)
        pool = topics.runner.pool(DATASET)
        checker = CategorizerTopicChecker(
            topics.runner.classifier(hierarchy, pool), pool, settings.decision_rules()
        )
        expected = checker.categorize(vectors)
    finally:
        store.close()

    assert got.dataset == DATASET and got.hierarchy_version == hierarchy.version
    assert len(got.decisions) == len(vectors)
    assert [d.topic for d in got.decisions] == [topic for topic, _ in expected]
    assert ["/".join(d.topic_path) for d in got.decisions] == [topic for topic, _ in expected]
    assert np.allclose([d.confidence for d in got.decisions], [c for _, c in expected],
                       atol=1e-6, rtol=0)
    assert again == got  # the cached classifier: the same answer
    review_below = settings.decision_rules().review_below
    assert all(d.needs_review == (d.uncategorized or d.confidence < review_below)
               for d in got.decisions)
    # the decisions mean something: the camera and lights candidates land where they belong
    assert got.decisions[0].topic == "camera" and got.decisions[2].topic == "lights"
