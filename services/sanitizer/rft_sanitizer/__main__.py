"""``python -m rft_sanitizer``: the sanitizer service (HTTP API + Kafka stage)."""

from __future__ import annotations

from rft_runtime.service import run_service
from rft_sanitizer.service import build_service


def main() -> None:
    app, stages, settings = build_service()
    run_service(app, stages, settings)


if __name__ == "__main__":
    main()
