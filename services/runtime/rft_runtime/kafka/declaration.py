"""What a service's Kafka stage consumes, in which consumer group, and what it produces.

A service declares its stages once (``rft_<service>.kafka_stages.STAGES``); its shell builds the
running :class:`~rft_runtime.kafka.stage.KafkaStage` from the declaration, and the manifest
checks (deploy/k8s/validate.py) read the same declarations to know which topics a service's
group consumes, so KEDA scales a group only on what the code reads. Importing this module is
cheap (no Kafka client): the checks import declarations without a service's dependencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from rft_schemas.kafka_topics import TopicSpec

if TYPE_CHECKING:
    from rft_runtime.kafka.stage import Handler, KafkaStage
    from rft_runtime.settings import RuntimeSettings

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class StageDeclaration:
    name: str
    source: TopicSpec
    outputs: tuple[TopicSpec, ...] = ()
    group_id: str | None = None

    @property
    def group(self) -> str:
        """The consumer group the stage joins: ``rft-<name>`` unless declared."""
        return self.group_id or f"rft-{self.name}"

    def build(
        self, handler: Handler[T], settings: RuntimeSettings, **options: Any
    ) -> KafkaStage[T]:
        """The running stage: ``options`` as :class:`KafkaStage` takes them (decode, registry)."""
        from rft_runtime.kafka.stage import KafkaStage

        return KafkaStage(
            self.name, self.source, handler, settings, outputs=self.outputs,
            group_id=self.group, **options,
        )


def consumed_topics(stages: Sequence[StageDeclaration]) -> set[str]:
    return {stage.source.name for stage in stages}
