"""aiokafka client construction from the shared settings (one place for security options)."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from rft_runtime.settings import RuntimeSettings


class BrokerNotConfigured(RuntimeError):
    pass


def bootstrap_servers(settings: RuntimeSettings) -> str:
    if not settings.kafka_bootstrap:
        raise BrokerNotConfigured(
            "RFT_KAFKA_BOOTSTRAP is not set: point it at a Kafka broker, or start the local "
            "stack with `rft up`"
        )
    return settings.kafka_bootstrap


def common_options(settings: RuntimeSettings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(settings),
        "client_id": settings.kafka_client_id,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def make_producer(settings: RuntimeSettings) -> AIOKafkaProducer:
    # acks=all: an output counts as delivered only when every in-sync replica has it; offsets
    # are committed after that. Idempotent producers need InitProducerId, which Tansu lacks,
    # so duplicates are handled by idempotent sinks (stable keys) instead.
    return AIOKafkaProducer(acks="all", linger_ms=5, **common_options(settings))


def make_consumer(settings: RuntimeSettings, group_id: str, *topics: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.kafka_batch_max_records,
        **common_options(settings),
    )


def make_admin(settings: RuntimeSettings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**common_options(settings))
