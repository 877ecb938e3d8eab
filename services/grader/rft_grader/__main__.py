"""``python -m rft_grader``: the grader service (HTTP API, dry-run jobs, grader workers).

With ``RFT_LLM_BASE_URL`` unset, the local default model is started for the service's life.
"""

from __future__ import annotations

from rft_grader.service import build_service
from rft_runtime.llm import LLMSettings, llm_endpoint
from rft_runtime.service import run_service


def main() -> None:
    with llm_endpoint(LLMSettings()) as llm:
        app, stages, settings = build_service(llm=llm)
        run_service(app, stages, settings)


if __name__ == "__main__":
    main()
