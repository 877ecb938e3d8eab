"""Create the platform's topics when missing (idempotent: safe on every start)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable

from aiokafka.admin import NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from rft_runtime.kafka.clients import make_admin
from rft_runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)


async def ensure_topics(
    settings: RuntimeSettings, names: Iterable[str], timeout_s: float = 30.0
) -> list[str]:
    """Create each missing topic; return the ones created. Retries while the broker starts."""
    wanted = sorted(set(names))
    deadline = time.monotonic() + timeout_s
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
                # another replica may create a topic between our list and create
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(new)
                log.info("created topics", extra={"topics": missing})
            return missing
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            if time.monotonic() > deadline:
                raise ConnectionError(
                    f"could not create topics on {settings.kafka_bootstrap}: {exc}"
                ) from exc
            await asyncio.sleep(0.5)
        finally:
            await admin.close()
