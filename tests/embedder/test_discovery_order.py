"""Topic discovery does not depend on the order the prompts arrive in.

`rft run` discovers over a file's prompts in file order; the categorizer service over its store,
in the order the stream delivered them (records spread over partitions arrive interleaved).
On the 103 drone prompts the two orders gave two hierarchies (drone/{drone, drone_lights} against
drone/{drone, disable, set_drone_lighting}, 25 prompts in another topic), found by
tests/e2e/test_cluster_journey.py. Here on the stored vectors of the real prompts (the drone
fixtures live with the embedder's tests)."""

from __future__ import annotations

import asyncio

from rft_categorizer.batch import ensure_embedded
from rft_categorizer.runner import CategorizeRunner
from rft_categorizer.settings import CategorizerSettings
from rft_embedder import EmbedderSettings, embed_prompts
from rft_runtime.vectorstore import VectorStore, point_id
from rft_schemas import SanitizedPrompt
from rft_schemas.topics import TopicHierarchy
from tests.embedder.conftest import RememberingEmbedder


def test_the_drone_prompts_in_any_order_make_one_hierarchy(
    drone_prompts: list[SanitizedPrompt], embedder: RememberingEmbedder, store: VectorStore,
    tmp_path,
) -> None:
    runner = CategorizeRunner(embedder, store, CategorizerSettings(data_dir=tmp_path))
    settings = EmbedderSettings()
    done = ensure_embedded(runner, drone_prompts, settings, embed_missing=lambda missing: (
        embed_prompts(missing, runner.embedder, runner.store, settings)))
    texts = dict(zip((p.id for p in done.prompts), done.texts, strict=True))

    def discover(prompts: list[SanitizedPrompt]) -> TopicHierarchy:
        found = asyncio.run(runner.discover(
            "drone", prompts, [str(point_id(p.id)) for p in prompts],
            [texts[p.id] for p in prompts], None,
        ))
        return found.hierarchy

    in_file_order = discover(done.prompts)
    interleaved = done.prompts[1::2] + done.prompts[::2]  # as two partitions would deliver
    assert discover(interleaved).topics == in_file_order.topics
    assert discover(done.prompts[::-1]).topics == in_file_order.topics
