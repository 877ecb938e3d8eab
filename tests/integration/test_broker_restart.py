"""The local broker with durable storage (as `rft up` runs it): killed mid-stream and started
again, every input is still on its topic and reaches the sink; the stage's committed offsets
survive too."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rft_runtime.kafka.broker import LocalBroker
from rft_runtime.kafka.topics import ensure_topics
from rft_runtime.settings import RuntimeSettings
from rft_schemas.traces import RawTrace, SourceLocation
from tests.integration.echo_stage import digest
from tests.integration.kafka_io import produce, read_topic

pytestmark = pytest.mark.broker
REPO = Path(__file__).resolve().parents[2]
INPUTS = 1_200


def trace(i: int) -> RawTrace:
    return RawTrace(id=f"trace-{i:05d}", dataset="restart", source=SourceLocation(uri="test"),
                    payload=f"record number {i}")


def start_echo_stage(bootstrap: str, source: str, sink: str) -> subprocess.Popen[bytes]:
    # a second per batch, so the kill finds batches still to do and one in flight
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.echo_stage", bootstrap, source, sink,
         "restart-group", "--slow", "1.0"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def kill(broker: LocalBroker) -> None:
    """SIGKILL the broker and its storage server: nothing gets to flush or say goodbye."""
    for process in (broker.process, broker.storage_process):
        assert process is not None and process.poll() is None
        process.kill()
        process.wait(timeout=10)


async def test_a_broker_killed_mid_stream_loses_no_input_and_no_output(tmp_path):
    storage = tmp_path / "broker"
    broker = LocalBroker(log_path=tmp_path / "tansu.log", storage_dir=storage)
    broker.start()
    settings = RuntimeSettings(kafka_bootstrap=broker.bootstrap, kafka_partitions=4,
                               kafka_batch_max_records=100)
    source, sink = "restart.in", "restart.out"
    await ensure_topics(settings, [source, sink])
    inputs = [trace(i) for i in range(INPUTS)]
    first, second = inputs[: INPUTS // 2], inputs[INPUTS // 2:]
    await produce(broker.bootstrap, source, ((t.id, t.model_dump_json().encode()) for t in first))

    stage = start_echo_stage(broker.bootstrap, source, sink)
    try:
        # mid-stream: some outputs produced and committed, most not yet
        partial = await read_topic(broker.bootstrap, sink, lambda r: len(r) >= 100, 120)
        kill(broker)
        assert stage.poll() is None, "the stage died with the broker"
        assert len({k for k, _ in partial}) < len(first), "the kill came after the stream ended"
        killed_at = time.monotonic()

        again = LocalBroker(port=broker.port, log_path=tmp_path / "tansu.log",
                            storage_dir=storage, storage_port=broker.storage_port)
        again.start()
        broker = again
        print(f"broker back in {time.monotonic() - killed_at:.1f}s")

        # what was written before the kill is still there
        kept = await read_topic(broker.bootstrap, source, lambda r: len(r) >= len(first), 60)
        assert {k for k, _ in kept} == {t.id for t in first}

        await produce(broker.bootstrap, source,
                      ((t.id, t.model_dump_json().encode()) for t in second))
        expected = {t.id for t in inputs}
        out = await read_topic(broker.bootstrap, sink, lambda r: {k for k, _ in r} >= expected,
                               240)
        assert stage.poll() is None, "the stage died across the restart"
    finally:
        stage.terminate()
        stage.wait(timeout=30)
        broker.stop()

    assert {k for k, _ in out} == expected
    assert dict(out) == {t.id: digest(t).model_dump_json().encode() for t in inputs}
    # at-least-once: only the batches in flight at the kill may be produced twice
    duplicates = len(out) - len(expected)
    print(f"{len(out)} outputs for {len(expected)} inputs ({duplicates} re-produced)")
    assert duplicates <= 4 * settings.kafka_batch_max_records
