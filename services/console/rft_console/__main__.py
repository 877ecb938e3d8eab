"""``python -m rft_console``: the console's HTTP server (no Kafka stage)."""

from __future__ import annotations

from rft_console.service import build_app
from rft_console.settings import ConsoleSettings
from rft_runtime.service import run_service


def main() -> None:
    settings = ConsoleSettings(service_name="console")
    run_service(build_app(settings), [], settings)


if __name__ == "__main__":
    main()
