"""Create the platform's topics when missing (idempotent: safe on every start)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError, for_code

from rft_runtime.kafka.clients import make_admin
from rft_runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)


class TopicCreationError(RuntimeError):
    """The broker refused to create a topic (bad replication factor, no permission, ...).

    Not a :class:`KafkaError`: waiting for the broker does not help, so it is raised at once."""


async def create_topics(admin: AIOKafkaAdminClient, new: list[NewTopic]) -> list[str]:
    """Create ``new`` and return the names created. A topic that already exists (another
    replica made it between our list and create) is fine; a retriable error per topic is
    raised as its KafkaError (the caller retries); any other raises TopicCreationError."""
    response: Any = await admin.create_topics(new)
    created: list[str] = []
    refused: list[str] = []
    retriable: KafkaError | None = None
    for topic, code, *message in response.topic_errors:
        if code == 0:
            created.append(topic)
            continue
        error_type = for_code(code)
        if error_type is TopicAlreadyExistsError:
            continue
        text = f"{topic}: {error_type.__name__} (error code {code})"
        if message and message[0]:
            text += f": {message[0]}"
        if error_type.retriable:
            retriable = error_type(text)
        else:
            refused.append(text)
    if refused:
        made = f" (created: {', '.join(created)})" if created else ""
        raise TopicCreationError(
            "the broker refused to create topics: " + "; ".join(refused) + made
        )
    if retriable is not None:
        raise retriable
    return created


async def ensure_topics(
    settings: RuntimeSettings, names: Iterable[str], timeout_s: float = 30.0
) -> list[str]:
    """Create each missing topic; return the ones created. Retries while the broker starts;
    raises TopicCreationError when the broker refuses a topic."""
    wanted = sorted(set(names))
    deadline = time.monotonic() + timeout_s
    created: list[str] = []  # across attempts: a retry lists what an earlier one created
    while True:
        admin = make_admin(settings)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [n for n in wanted if n not in existing]
            if missing:
                new = [
                    NewTopic(n, settings.kafka_partitions, settings.kafka_replication_factor)
                    for n in missing
                ]
                made = await create_topics(admin, new)
                if made:
                    log.info("created topics", extra={"topics": made})
                created += made
            return created
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            if time.monotonic() > deadline:
                raise ConnectionError(
                    f"could not create topics on {settings.kafka_bootstrap}: {exc}"
                ) from exc
            await asyncio.sleep(0.5)
        finally:
            await admin.close()
