"""Topic administration command (the Kubernetes topic Job runs it).

    python -m rft_runtime.topics create   # every platform topic, RFT_KAFKA_PARTITIONS each
    python -m rft_runtime.topics list
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from rft_runtime.kafka.clients import make_admin
from rft_runtime.kafka.topics import TopicCreationError, ensure_topics
from rft_runtime.settings import RuntimeSettings
from rft_schemas.kafka_topics import ALL_TOPICS


async def _list(settings: RuntimeSettings) -> list[str]:
    admin = make_admin(settings)
    await admin.start()
    try:
        return sorted(await admin.list_topics())
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rft_runtime.topics")
    parser.add_argument("command", choices=["create", "list"])
    parser.add_argument("--timeout", type=float, default=120.0, help="wait for the broker (s)")
    args = parser.parse_args(argv)
    settings = RuntimeSettings()
    if args.command == "create":
        try:
            created = asyncio.run(
                ensure_topics(settings, [t.name for t in ALL_TOPICS], timeout_s=args.timeout)
            )
        except TopicCreationError as refused:
            print(f"topics not created: {refused}", file=sys.stderr)
            return 1
        print(f"created {len(created)} topics: {', '.join(created) or '(all existed)'}")
    else:
        print("\n".join(asyncio.run(_list(settings))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
