"""Every service's settings are RuntimeSettings: the shared fields read ``RFT_*`` (a service's
own prefix overriding them for that service), its own fields read only its own prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from rft_embedder.settings import EmbedderSettings
from rft_generator.settings import GeneratorSettings
from rft_runtime.settings import RuntimeSettings
from rft_sanitizer.settings import SanitizerSettings


def test_a_service_reads_the_shared_variables_and_its_own_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RFT_DATA_DIR", "/srv/shared")
    monkeypatch.setenv("RFT_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("RFT_GENERATOR_DATA_DIR", "/srv/generator")
    monkeypatch.setenv("RFT_EMBEDDER_BATCH_SIZE", "7")
    monkeypatch.setenv("RFT_BATCH_SIZE", "99")  # not the embedder's: its fields have its prefix
    monkeypatch.setenv("RFT_POLICY", "strict")

    embedder, generator, sanitizer = EmbedderSettings(), GeneratorSettings(), SanitizerSettings()
    for settings in (embedder, generator, sanitizer):
        assert isinstance(settings, RuntimeSettings)
        assert settings.kafka_bootstrap == "kafka:9092"
    assert embedder.data_dir == sanitizer.data_dir == Path("/srv/shared")
    assert generator.data_dir == Path("/srv/generator")
    assert embedder.batch_size == 7
    assert sanitizer.policy == "last_meaningful_user"
    assert GeneratorSettings(data_dir=Path("/x")).data_dir == Path("/x"), "arguments win"
