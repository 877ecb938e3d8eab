"""Hierarchy changes in the categorizer service: a change nothing can be categorized into is
refused before it is saved, and a change that changes nothing makes no new version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rft_categorizer.templates import parse_hierarchy_file
from rft_embedder import Embedder
from rft_schemas.traces import SanitizedPrompt
from tests.categorizer_service.fixtures import DRONE_TOPICS, service_with_embedded

DATASET = "drone-edits"


def test_a_refused_change_is_not_saved_and_the_stream_goes_on(
    embedder: Embedder, drone_prompts: list[SanitizedPrompt], tmp_path: Path
) -> None:
    topics, embedded, _ = service_with_embedded(embedder, drone_prompts, DATASET, tmp_path)
    first, rest = embedded[:50], embedded[50:]
    topics.categorize_embedded(first)
    drone = parse_hierarchy_file(json.dumps(DRONE_TOPICS), DATASET)
    assert topics.set_hierarchy(drone).hierarchy.version == 1

    again = topics.set_hierarchy(drone)
    assert again.hierarchy.version == 1 and again.records == []

    with pytest.raises(ValueError, match="nothing was saved"):
        topics.set_hierarchy(drone.model_copy(update={"topics": []}))
    assert topics.hierarchies.current(DATASET).version == 1
    later = topics.categorize_embedded(rest)  # the stream still categorizes new prompts
    assert len(later) == len(rest) and all(r.hierarchy_version == 1 for r in later)
