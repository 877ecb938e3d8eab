"""Assembles the sanitizer service from the settings: core, stores, HTTP routes, Kafka stage."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from rft_runtime.kafka.stage import KafkaStage
from rft_runtime.settings import RuntimeSettings
from rft_runtime.shell import ServiceShell
from rft_sanitizer.api import build_router
from rft_sanitizer.core import Policy
from rft_sanitizer.dedup import open_dedup_store
from rft_sanitizer.outcome_store import OutcomeStore
from rft_sanitizer.pipeline import Sanitizer
from rft_sanitizer.settings import SanitizerSettings
from rft_sanitizer.stage import build_stage
from rft_sanitizer.tokens import load_token_counter
from rft_sanitizer.uploads import Uploads


def build_service(
    settings: SanitizerSettings | None = None,
) -> tuple[FastAPI, list[KafkaStage[Any]], RuntimeSettings]:
    """``settings`` are the service's and its runtime's (one data dir, one broker)."""
    settings = settings or SanitizerSettings(service_name="sanitizer")
    runtime: RuntimeSettings = settings
    counter = load_token_counter(settings.tokenizer, settings.tokenizer_cache_dir())
    sanitizer = Sanitizer(
        Policy.from_settings(settings, counter), open_dedup_store(settings.resolved_dedup_store())
    )
    policy = sanitizer.policy
    store = OutcomeStore(settings.resolved_outcome_store(), policy.bound, policy.closing.name)

    shell = ServiceShell(runtime, "rft sanitizer")
    if shell.streaming:
        shell.consume(build_stage(runtime, sanitizer, store, default_dataset=settings.dataset))
    publish = shell.publisher()  # uploads are published to the raw topic
    uploads = Uploads(
        settings.data_dir / "sanitizer" / "uploads",
        settings.upload_max_age_s,
        settings.upload_max_per_dataset,
    )
    uploads.prune()  # what expired while the service was down
    app = shell.app(build_router(sanitizer, store, settings, uploads, publish))
    return app, shell.stages, runtime
