"""How far behind a stage's consumer group is: the records on its source topic after the group's
committed offsets, counted by reading them (an observer; it joins no group and commits nothing).

Read rather than asked: Tansu 0.6.0, the local broker, answers ListOffsets (latest) with an
offset inside a partition's last batch (tests/integration/test_tansu_end_offsets.py), so a lag
from end offsets alone undercounts. A fetch returns whole batches, so reading from the committed
offset to past the reported end reaches the real end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from rft_runtime.kafka.clients import common_options
from rft_runtime.kafka.declaration import StageDeclaration
from rft_runtime.settings import RuntimeSettings


class NotCaughtUp(TimeoutError):
    pass


async def backlog(settings: RuntimeSettings, stage: StageDeclaration) -> dict[int, int]:
    """Per partition of ``stage``'s source topic: records its group has not committed."""
    topic = stage.source.name
    committed_by = AIOKafkaConsumer(group_id=stage.group, enable_auto_commit=False,
                                    **common_options(settings))
    reader = AIOKafkaConsumer(enable_auto_commit=False, **common_options(settings))
    await committed_by.start()
    await reader.start()
    try:
        await reader.topics()
        partitions = [TopicPartition(topic, p)
                      for p in sorted(reader.partitions_for_topic(topic) or ())]
        if not partitions:
            return {}
        starts = {tp: await committed_by.committed(tp) or 0 for tp in partitions}
        reported = await reader.end_offsets(partitions)
        reader.assign(partitions)
        for tp, start in starts.items():
            reader.seek(tp, start)
        behind = {tp.partition: 0 for tp in partitions}
        while True:
            fetched = await reader.getmany(timeout_ms=300)
            for tp, records in fetched.items():
                behind[tp.partition] += len(records)
            if not fetched and all([await reader.position(tp) >= reported[tp]
                                    for tp in partitions]):
                return behind
    finally:
        await reader.stop()
        await committed_by.stop()


async def wait_caught_up(settings: RuntimeSettings, stages: Sequence[StageDeclaration],
                         timeout_s: float, poll_s: float = 0.5) -> None:
    """Until every stage, in order, has committed all its source holds. In order because a
    stage's source is often the one before it's output: the count of the later one is read
    once the earlier has caught up. Raises :class:`NotCaughtUp` naming who is behind."""
    deadline = time.monotonic() + timeout_s
    for stage in stages:
        while sum((behind := await backlog(settings, stage)).values()):
            if time.monotonic() > deadline:
                raise NotCaughtUp(f"{stage.name} is {sum(behind.values())} records behind on "
                                  f"{stage.source.name} after {timeout_s:.0f}s")
            await asyncio.sleep(poll_s)
