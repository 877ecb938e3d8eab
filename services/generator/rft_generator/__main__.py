"""``python -m rft_generator``: the generator service (HTTP API + generation-requests stage)."""

from __future__ import annotations

from rft_generator.service import build_service
from rft_runtime.service import run_service


def main() -> None:
    app, stages, settings = build_service()
    run_service(app, stages, settings)


if __name__ == "__main__":
    main()
