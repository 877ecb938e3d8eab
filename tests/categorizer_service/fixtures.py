"""Fixtures shared by the embedder-service, categorizer-service and topics-CLI tests: the real
model (loaded once per session: every folder uses the same model directory, and the embedder
keeps one loaded model per process), real prompts sanitized from examples/data, and a
hand-written topic hierarchy for the drone prompts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rft_categorizer.batch import read_prompts
from rft_categorizer.service import build_service
from rft_categorizer.settings import CategorizerSettings
from rft_categorizer.topic_service import TopicService
from rft_embedder import Embedder, EmbedderSettings, embed_prompts, load_embedder
from rft_runtime.vectorstore.edge import EdgeVectorStore
from rft_sanitizer import SanitizerSettings, sanitize_files
from rft_schemas.topics import EmbeddedPrompt
from rft_schemas.traces import SanitizedPrompt

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
DRONE = DATA / "drone_training.jsonl"

DRONE_TOPICS: dict[str, Any] = {
    "topics": [
        {
            "name": "flight",
            "description": "Flying the drone",
            "children": [
                {
                    "name": "takeoff_and_landing",
                    "description": "take off, land, return to home base",
                    "examples": ["Let's get the drone in the air", "Land the drone right here",
                                 "Bring the drone back to base"],
                },
                {
                    "name": "movement",
                    "description": "move the drone left, right, up, down, change its speed",
                    "examples": ["Move the drone to the left by 10 units",
                                 "Fly the drone higher by 5 feet", "Speed up the drone"],
                },
            ],
        },
        {
            "name": "camera",
            "description": "photos, video recording, panorama camera modes",
            "examples": ["Take a picture", "Switch the camera to video mode and record"],
        },
        {
            "name": "lights",
            "description": "drone lights and the LED display: on, off, colors, blinking",
            "examples": ["Turn on the drone lights", "Make the LED display blink in red"],
        },
    ]
}

BATTERY_TOPIC = {
    "op": "add",
    "path": [],
    "name": "flight_modes",
    "description": "autopilot, follow me mode, obstacle avoidance, battery saver mode",
    "examples": ["Turn on the autopilot", "Activate the follow me mode",
                 "Enable obstacle avoidance", "Turn off the battery saver mode"],
}


def shared_dir(factory: pytest.TempPathFactory, name: str) -> Path:
    """A directory shared by every folder's fixtures in this session (not one per folder)."""
    path = factory.getbasetemp() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_dir(tmp_path_factory, "topics-model")


@pytest.fixture(scope="session")
def embedder(model_dir: Path) -> Embedder:
    return load_embedder(EmbedderSettings(), model_dir)


@pytest.fixture(scope="session")
def drone_sanitized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/data/drone_training.jsonl through the real sanitizer (once per session)."""
    out = shared_dir(tmp_path_factory, "drone-sanitized")
    path = out / "sanitized_prompts.jsonl"
    if not path.is_file():
        sanitize_files([DRONE], out, SanitizerSettings(dataset="drone", data_dir=out / "state"))
    return path


@pytest.fixture(scope="session")
def drone_prompts(drone_sanitized: Path) -> list[SanitizedPrompt]:
    return read_prompts(drone_sanitized)


def as_dataset(prompts: list[SanitizedPrompt], dataset: str) -> list[SanitizedPrompt]:
    """The same prompts under another dataset id (a test's own, on the shared broker)."""
    return [p.model_copy(update={"dataset": dataset}) for p in prompts]


def service_with_embedded(
    embedder: Embedder, prompts: list[SanitizedPrompt], dataset: str, data_dir: Path
) -> tuple[TopicService, list[EmbeddedPrompt], CategorizerSettings]:
    """The categorizer service (no broker) over a Qdrant Edge of ``data_dir``, and ``prompts``
    as ``dataset``, embedded into it but not yet categorized."""
    store = EdgeVectorStore(data_dir / "qdrant")
    app, _, settings = build_service(
        CategorizerSettings(data_dir=data_dir, log_json=False), store=store, embedder=embedder
    )
    embedded = embed_prompts(as_dataset(prompts, dataset), embedder, store, EmbedderSettings())
    return app.state.topics, embedded.embedded, settings
