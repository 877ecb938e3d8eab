from __future__ import annotations

import asyncio

from rft_grader.graders.base import BaseGrader, Graded, Item, Outcome
from rft_grader.sample import Sample
from rft_grader.sandbox.client import SandboxLimits, SandboxWorker
from rft_grader.sandbox.remote import RemoteSandbox
from rft_schemas.grader import PythonGrader


class PythonCode(BaseGrader):
    """``grade(sample, item) -> float`` run in the sandbox, one persistent worker per grader."""

    type = "python"
    invalid_reward_flag = "python_grader_runtime_error"

    def __init__(self, config: PythonGrader, limits: SandboxLimits | None = None,
                 remote: RemoteSandbox | None = None) -> None:
        super().__init__(config.name)
        self.config = config
        # The sandbox-workers service when given (RFT_GRADER_SANDBOX_URL), else a worker here.
        self.remote = remote
        self.worker = SandboxWorker(config.source, limits)

    async def _grade(self, out: Outcome, sample: Sample, item: Item) -> Graded:
        if self.remote is not None:
            return await asyncio.to_thread(self.remote.grade, out, self.config, sample, item)
        outcome = await asyncio.to_thread(self.worker.grade, sample.as_namespace(), item)
        if outcome.error is None:
            assert outcome.score is not None
            return outcome.score, {}
        detail = outcome.detail or outcome.error
        if outcome.error in ("runtime", "bad_score"):
            out.flag("python_grader_runtime_error", detail)
            out.errors.python_grader_runtime_error_details = detail
        elif outcome.error == "timeout":
            out.flag("unresponsive_reward_error", detail)
            out.errors.python_grader_server_error_type = "timeout"
        else:
            out.flag("python_grader_server_error", detail)
            out.errors.python_grader_server_error_type = outcome.error
        return 0.0, {}

    def close(self) -> None:
        self.worker.close()
        if self.remote is not None:
            self.remote.close()
