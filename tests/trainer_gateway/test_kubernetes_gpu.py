"""The GPU path of the training entrypoint the kubernetes backend runs in its pods.

One GRPO step of the local SmolLM2-135M on CUDA through `python -m rft_trainer_gateway.worker
JOB_DIR`, the command the pod's `accelerate launch -m` runs per process. Skipped where there is
no CUDA device (CI, the developers' machines). Not covered: accelerate with DeepSpeed ZeRO-3 and
the vLLM rollout server (they need the GPU training image, requirements/train-gpu.txt).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rft_schemas import (
    JobStatus,
    TrainingBackendName,
    TrainingEventKind,
    TrainingHyperparameters,
    TrainingJob,
)
from rft_trainer_gateway.events import EventLog
from rft_trainer_gateway.job_files import JobFiles
from rft_trainer_gateway.preparation import resolve_base_model


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.slow,
    pytest.mark.skipif(not _has_cuda(), reason="needs a CUDA device"),
]

EXACT = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
         "reference": "{{item.reference}}", "operation": "eq"}


def sums(n: int, offset: int = 0) -> list[dict[str, Any]]:
    return [{"messages": [{"role": "user", "content": f"What is {i} + {i}? Answer with a number."}],
             "reference": str(2 * i), "topic": "arithmetic"} for i in range(offset, offset + n)]


def test_one_grpo_step_on_cuda_through_the_worker_entrypoint(tmp_path: Path) -> None:
    files = JobFiles(tmp_path / "ftjob-gpu")
    files.write_rows(files.train, sums(4))
    files.write_rows(files.valid, sums(2, offset=10))
    files.grader.write_text(json.dumps(EXACT))
    files.write_job(TrainingJob(
        id="ftjob-gpu", dataset="sums", base_model=resolve_base_model(None),
        backend=TrainingBackendName.KUBERNETES, device="cuda",
        hyperparameters=TrainingHyperparameters(
            max_steps=1, prompts_per_step=2, samples_per_prompt=2, max_completion_tokens=8,
            eval_every_steps=1, eval_prompts=2, eval_samples_per_prompt=1,
            final_eval_samples_per_prompt=1, report_to=[],
        ),
    ))
    done = subprocess.run(
        [sys.executable, "-m", "rft_trainer_gateway.worker", str(files.root)],
        capture_output=True, text=True, timeout=900, check=False,
    )
    events = EventLog(files.events).read()
    assert done.returncode == 0, done.stderr[-4000:]
    steps = [e for e in events if e.kind is TrainingEventKind.STEP]
    assert steps and steps[-1].step == 1 and steps[-1].train_reward is not None
    assert events[-1].status is JobStatus.SUCCEEDED
    started = next(e for e in events if e.kind is TrainingEventKind.STATUS)
    assert "on cuda" in (started.message or "")
