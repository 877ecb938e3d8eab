"""``python -m rft_grader.sandbox.server``: python graders' sandbox workers as a service of their
own, which a grader with ``RFT_GRADER_SANDBOX_URL`` calls instead of running the workers in its
own pod. In Kubernetes: Deployment ``sandbox-workers`` (deploy/k8s/base/services/
sandbox-workers.yaml), with no egress at all, no service-account token and a read-only root.

One endpoint, the grader's run contract for python graders only: ``POST /v1/graders:run`` with
a ``python`` grader answers a :class:`GraderRunResponse`. The workers are the same
:class:`SandboxWorker` s, kept per grader (name and source), at most
``RFT_GRADER_SANDBOX_WORKERS`` of them; the least recently used is closed first.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from rft_grader.build import sandbox_limits
from rft_grader.graders.python_code import PythonCode
from rft_grader.openai_endpoints import run_response
from rft_grader.sample import Sample
from rft_grader.settings import GraderSettings
from rft_grader.validation import validate_grader
from rft_runtime.http.app import create_app
from rft_runtime.service import run_service
from rft_schemas.grader import GraderRunRequest, GraderRunResponse, PythonGrader


class WorkerPool:
    """Python graders by (name, source), least recently used closed first."""

    def __init__(self, settings: GraderSettings) -> None:
        self.settings = settings
        self._graders: OrderedDict[tuple[str, str], PythonCode] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, config: PythonGrader) -> tuple[PythonCode, list[PythonCode]]:
        """The grader for ``config`` and those evicted to make room (the caller closes them
        off the event loop: closing waits for a sample in flight)."""
        key = (config.name, config.source)
        with self._lock:
            grader = self._graders.get(key)
            if grader is None:
                # Local workers always: this service is where RFT_GRADER_SANDBOX_URL points.
                grader = PythonCode(config, sandbox_limits(self.settings))
                grader.max_abs_reward = self.settings.grader_max_abs_reward
                self._graders[key] = grader
            self._graders.move_to_end(key)
            evicted = []
            while len(self._graders) > self.settings.grader_sandbox_workers:
                evicted.append(self._graders.popitem(last=False)[1])
        return grader, evicted

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        with self._lock:
            graders, self._graders = list(self._graders.values()), OrderedDict()
        for grader in graders:
            await asyncio.to_thread(grader.close)


def build_app(settings: GraderSettings | None = None) -> FastAPI:
    settings = settings or GraderSettings(service_name="sandbox-workers")
    pool = WorkerPool(settings)
    app: FastAPI = create_app(settings, title="rft python grader sandbox", managed=[pool])
    router = APIRouter(prefix="/v1", tags=["sandbox"])

    @router.post("/graders:run", response_model=GraderRunResponse)
    async def run(request: GraderRunRequest) -> GraderRunResponse | JSONResponse:
        """Grade one ``model_sample`` with a ``python`` grader in this service's sandbox."""
        if not isinstance(request.grader, PythonGrader):
            return JSONResponse(status_code=400, content={
                "detail": f"this service runs python graders only, not {request.grader.type!r}"})
        issues = validate_grader(request.grader)
        if issues:
            return JSONResponse(status_code=400, content={
                "detail": "invalid grader",
                "issues": [i.model_dump(mode="json") for i in issues]})
        grader, evicted = pool.get(request.grader)
        for old in evicted:
            await asyncio.to_thread(old.close)
        result = await grader(Sample(request.model_sample, list(request.output_tools)),
                              request.item)
        return run_response(result, [])

    app.include_router(router)
    return app


def main() -> None:
    settings = GraderSettings(service_name="sandbox-workers")
    run_service(build_app(settings), [], settings)


if __name__ == "__main__":
    main()
