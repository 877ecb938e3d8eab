"""A real stage process for delivery tests: digests each RawTrace into a keyed output.

Run as ``python -m tests.integration.echo_stage BOOTSTRAP IN OUT GROUP [--slow S]``; the tests
kill it with SIGKILL and start it again. Records whose payload is ``poison`` make the handler
raise, like a record that breaks a real stage's code.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from collections.abc import Sequence

from rft_runtime.kafka.stage import Inbound, KafkaStage, Outbound
from rft_runtime.settings import RuntimeSettings
from rft_schemas.kafka_topics import TopicSpec
from rft_schemas.traces import RawTrace


def digest(trace: RawTrace) -> RawTrace:
    payload = hashlib.sha256(trace.payload.encode()).hexdigest()
    return trace.model_copy(update={"payload": payload})


def build_stage(
    settings: RuntimeSettings, source: str, sink: str, group: str, slow_s: float = 0.0
) -> KafkaStage[RawTrace]:
    sink_spec = TopicSpec(sink, RawTrace, ("echo",), ("tests",))

    async def handle(batch: Sequence[Inbound[RawTrace]]) -> list[Outbound]:
        if slow_s:
            await asyncio.sleep(slow_s)
        outputs = []
        for item in batch:
            if item.value.payload == "poison":
                raise ValueError(f"cannot digest record {item.value.id}")
            outputs.append(Outbound(sink, item.value.id, digest(item.value)))
        return outputs

    return KafkaStage(
        "echo",
        TopicSpec(source, RawTrace, ("tests",), ("echo",)),
        handle,
        settings,
        outputs=[sink_spec],
        group_id=group,
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("source")
    parser.add_argument("sink")
    parser.add_argument("group")
    parser.add_argument("--slow", type=float, default=0.0)
    args = parser.parse_args()
    settings = RuntimeSettings(
        kafka_bootstrap=args.bootstrap, kafka_partitions=4, kafka_batch_max_records=200
    )
    stop = asyncio.Event()
    await build_stage(settings, args.source, args.sink, args.group, args.slow).run(stop)


if __name__ == "__main__":
    asyncio.run(main())
