"""Real drone prompts (examples/data/drone_training.jsonl) through the sanitizer's core, put in
two topics by a keyword rule, and the real embedder (ONNX export cached in pytest's cache)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rft_embedder import Embedder, EmbedderSettings, load_embedder
from rft_sanitizer import Policy, load_token_counter, sanitize
from rft_sanitizer.core import Accepted
from rft_schemas import CategorizationMethod, CategorizedPrompt, RawTrace, SourceLocation

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
CAMERA = re.compile(r"photo|picture|camera|video|record|film|capture", re.IGNORECASE)


def drone_categorized(policy: Policy) -> list[CategorizedPrompt]:
    """Every drone trace the sanitizer accepts, as 'drone/camera' or 'drone/flight'."""
    path = DATA / "drone_training.jsonl"
    out = []
    for line_number, line in enumerate(path.read_text().splitlines(), start=1):
        raw = RawTrace(
            id=f"drone-{line_number}", dataset="drone", payload=line,
            source=SourceLocation(uri=str(path), line=line_number),
        )
        outcome = sanitize(raw, policy)
        if not isinstance(outcome, Accepted):
            continue
        for prompt in outcome.prompts:
            user = prompt.messages[-1].text()
            leaf = "camera" if CAMERA.search(user) else "flight"
            out.append(CategorizedPrompt(
                prompt=prompt, topic_path=["drone", leaf], confidence=1.0,
                method=CategorizationMethod.MANUAL, hierarchy_version=1,
            ))
    return out


@pytest.fixture(scope="session")
def structure_policy(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    counter = load_token_counter("smollm2-135m-instruct", tmp_path_factory.mktemp("tokenizers"))
    return Policy(counter=counter, min_tokens=4)


@pytest.fixture(scope="session")
def categorized(structure_policy: Policy) -> list[CategorizedPrompt]:
    return drone_categorized(structure_policy)


@pytest.fixture(scope="session")
def embedder(request: pytest.FixtureRequest) -> Embedder:
    # The ONNX export takes about 30 s; pytest's cache keeps it between runs.
    cache = Path(request.config.cache.mkdir("rft-onnx"))
    return load_embedder(EmbedderSettings(backend="onnx", onnx_cache_dir=cache), cache)
