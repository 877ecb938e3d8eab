"""``python -m rft_trainer_gateway``: the trainer gateway (training jobs, their events, results
and deploys). Training processes outlive a restart of the gateway, which re-attaches to them."""

from __future__ import annotations

from rft_runtime.service import run_service
from rft_trainer_gateway.service import build_service


def main() -> None:
    app, stages, settings = build_service()
    run_service(app, stages, settings)


if __name__ == "__main__":
    main()
