"""A job directory made ready for the training entrypoint: the job, its rows and its grader.

The gateway calls this for a validated request; `rft train` for a run directory (whose split
files already carry the names the entrypoint reads, so only the job file is added there).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from rft_runtime.llm.model_store import ensure_checkpoint
from rft_runtime.llm.settings import LOCAL_MODEL_NAME, LLMSettings
from rft_schemas import TrainingBackendName, TrainingHyperparameters, TrainingJob
from rft_trainer_gateway.job_files import JobFiles


def resolve_base_model(name: str | None, llm: LLMSettings | None = None) -> str:
    """A loadable model reference: unset or the local model's name means the local SmolLM2
    checkpoint the LLM runtime makes (dequantized once from the GGUF package)."""
    if name in (None, "", LOCAL_MODEL_NAME):
        return str(ensure_checkpoint((llm or LLMSettings()).cache_dir))
    assert name is not None
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def job_id_for(dataset: str, train_digest: str, hp: TrainingHyperparameters,
               base_model: str) -> str:
    """Deterministic per inputs: re-running `rft train` on the same run resumes the same job."""
    body = json.dumps([dataset, train_digest, hp.model_dump(mode="json"), base_model],
                      sort_keys=True)
    return "ftjob-" + hashlib.sha256(body.encode()).hexdigest()[:16]


def file_digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def count_lines(path: Path) -> int:
    with path.open("rb") as lines:
        return sum(1 for line in lines if line.strip())


def grader_name(config: dict[str, Any]) -> str:
    inner = config.get("grader", config) if "type" not in config else config
    return str(inner.get("name", "grader")) if isinstance(inner, dict) else "grader"


def job_for_run_dir(run_dir: Path, *, dataset: str, hp: TrainingHyperparameters,
                    base_model: str, backend: TrainingBackendName = TrainingBackendName.TRL,
                    device: str = "auto") -> TrainingJob:
    """The job of `rft train RUN_DIR`: the run's split and grader files as they are."""
    files = JobFiles(run_dir)
    for path in (files.train, files.valid, files.grader):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run the journey through step G first "
                                    f"(rft run ... --until G)")
    config = json.loads(files.grader.read_text())
    job = TrainingJob(
        id=job_id_for(dataset, file_digest(files.train, files.valid, files.grader), hp,
                      base_model),
        dataset=dataset, base_model=base_model, backend=backend, device=device,  # type: ignore[arg-type]
        hyperparameters=hp, train_rows=count_lines(files.train),
        valid_rows=count_lines(files.valid), grader_name=grader_name(config),
        output_dir=str(run_dir),
    )
    return job
