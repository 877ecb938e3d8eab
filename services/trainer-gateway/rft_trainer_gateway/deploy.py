"""Step J's deploy: the best checkpoint to where a user talks to it, behind the results' gate.

Targets:
- ``export``: a Hugging Face directory (the LoRA merged into the base, or the full model), its
  tokenizer, and a model card naming the dataset, the grader and the measured change;
- ``vllm``: a running vLLM started with ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`` loads the
  LoRA adapter through ``POST /v1/load_lora_adapter`` (a full fine-tune cannot be hot-loaded:
  serve the export directory instead);
- ``local``: the platform's local LLM server loads the merged export through the same endpoint,
  so a user on one machine talks to the tuned model by its name.
Each deploy is confirmed by one chat request naming the new model, and recorded in the job's
``deploys.jsonl`` (a forced one with its reason).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import httpx

from rft_schemas import (
    DeployRequest,
    DeployResult,
    DeployTarget,
    EvalComparison,
    TrainingJob,
)
from rft_trainer_gateway.checkpoints import best_checkpoint, list_checkpoints
from rft_trainer_gateway.job_files import JobFiles

CONFIRM_PROMPT = "Say hello in one short sentence."


class DeployError(RuntimeError):
    """The deploy could not be done; the message says why and what to do."""


class DeployGateClosed(DeployError):
    def __init__(self, reasons: list[str]) -> None:
        super().__init__("deploy is closed: " + "; ".join(reasons)
                         + " (force it with a recorded reason)")
        self.reasons = reasons


def tuned_model_name(job: TrainingJob) -> str:
    base = Path(job.base_model).name or job.base_model
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-")
    return f"{safe}-rft-{job.id.removeprefix('ftjob-')[:8]}"


def read_results(files: JobFiles) -> EvalComparison:
    if not files.results.is_file():
        raise DeployError(f"{files.results} does not exist yet: the job has no results to "
                          "deploy (train to the end first)")
    return EvalComparison.model_validate_json(files.results.read_text())


def deploy_job(files: JobFiles, request: DeployRequest,
               timeout_s: float = 600.0) -> DeployResult:
    job = files.read_job()
    results = read_results(files)
    if not results.deployable and not request.force:
        raise DeployGateClosed(results.gate_reasons)
    name = request.model_name or tuned_model_name(job)
    if request.target is DeployTarget.EXPORT:
        location = str(export(files, job, results, Path(request.export_dir)
                              if request.export_dir else files.export))
        result = DeployResult(job_id=job.id, target=request.target, model_name=name,
                              location=location, confirmed=_loadable(Path(location)))
    else:
        if not request.base_url:
            raise DeployError(f"a {request.target.value} deploy needs base_url (…/v1)")
        if request.target is DeployTarget.LOCAL:
            path = export(files, job, results, files.export)
        else:
            path = _adapter_dir(files)
        reply = load_into_server(request.base_url, name, path, timeout_s)
        result = DeployResult(job_id=job.id, target=request.target, model_name=name,
                              location=request.base_url, confirmed=True, reply_excerpt=reply)
    result = result.model_copy(update={"forced": request.force and not results.deployable,
                                       "reason": request.reason})
    with files.deploys.open("a") as log:
        log.write(result.model_dump_json() + "\n")
    return result


def _best_path(files: JobFiles) -> Path:
    best = best_checkpoint(list_checkpoints(files.checkpoints))
    if best is None:
        raise DeployError(f"no checkpoint in {files.checkpoints}")
    return Path(best.path)


def _adapter_dir(files: JobFiles) -> Path:
    path = _best_path(files)
    if not (path / "adapter_config.json").is_file():
        raise DeployError(
            "this job fine-tuned the full model: vLLM cannot hot-load it. Export it "
            f"(target export) and serve the directory: vllm serve {files.export}")
    return path


def export(files: JobFiles, job: TrainingJob, results: EvalComparison, target: Path) -> Path:
    """The best checkpoint as a plain Hugging Face model directory, with a model card."""
    from transformers import AutoTokenizer

    from rft_trainer_gateway.worker import load_model

    source = _best_path(files)
    marker = target / ".rft_export"
    if marker.is_file() and marker.read_text() == source.name:
        return target  # already exported from this checkpoint
    staging = target.with_name(target.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    model = load_model(str(source), job.base_model, "cpu")
    model.save_pretrained(staging)
    AutoTokenizer.from_pretrained(job.base_model).save_pretrained(staging)
    (staging / "README.md").write_text(model_card(job, results, source.name))
    (staging / "rft_results.json").write_text(results.model_dump_json(indent=2))
    (staging / ".rft_export").write_text(source.name)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def model_card(job: TrainingJob, results: EvalComparison, checkpoint: str) -> str:
    hp = job.hyperparameters
    topics = "\n".join(
        f"| {topic} | {d.prompts} | {d.before:.3f} | {d.after:.3f} | {d.change:+.3f} | "
        f"[{d.interval.low:+.3f}, {d.interval.high:+.3f}] |{' regression' if d.regression else ''}"
        for topic, d in sorted(results.by_topic.items()))
    steps = job.total_steps or hp.max_steps
    interval = f"[{results.interval.low:+.3f}, {results.interval.high:+.3f}]"
    return "\n".join([
        "---", f"base_model: {job.base_model}", "tags: [rft, grpo, trl]", "---",
        f"# {tuned_model_name(job)}", "",
        f"Reinforcement fine-tuned (GRPO, TRL) from `{job.base_model}` by the RFT platform, "
        f"job `{job.id}`, checkpoint `{checkpoint}` (best valid reward).", "",
        f"- **Dataset:** `{job.dataset}`: {job.train_rows} train and {job.valid_rows} valid "
        "prompts.",
        f"- **Grader (reward):** `{job.grader_name}` (the run's grader_config.json).",
        f"- **Training:** {steps} steps, {hp.step_prompts} prompts x "
        f"k={hp.samples_per_prompt} per step, {hp.adapter.value}, learning rate "
        f"{hp.learning_rate}, loss {hp.loss_type}, beta {hp.beta}, rewards scaled per "
        f"{hp.scale_rewards}, at most {hp.max_completion_tokens} completion tokens.", "",
        f"## Results on the valid split ({results.prompts} prompts x "
        f"{results.samples_per_prompt} samples, same seeds)", "",
        f"Mean reward {results.before.mean:.3f} -> {results.after.mean:.3f}: change "
        f"{results.change:+.3f}, {results.confidence:.0%} paired bootstrap interval {interval}. "
        f"{results.correction}.", "",
        "| topic | prompts | before | after | change | interval |",
        "| --- | --- | --- | --- | --- | --- |",
        topics, "", f"Gate: {'; '.join(results.gate_reasons)}.", "",
    ])


def _loadable(path: Path) -> bool:
    """An export is confirmed when its config and weights are where a loader looks."""
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def load_into_server(base_url: str, name: str, path: Path, timeout_s: float) -> str:
    """``/v1/load_lora_adapter`` (vLLM's runtime LoRA API; the local server's model loader),
    then one chat request naming the model: a deploy is confirmed only by an answer."""
    base = base_url.rstrip("/")
    with httpx.Client(timeout=timeout_s) as client:
        loaded = client.post(f"{base}/load_lora_adapter",
                             json={"lora_name": name, "lora_path": str(path)})
        if loaded.status_code >= 400 and "already" not in loaded.text:
            raise DeployError(f"{base}/load_lora_adapter answered {loaded.status_code}: "
                              f"{loaded.text[:500]}")
        reply = client.post(f"{base}/chat/completions", json={
            "model": name, "max_tokens": 16, "temperature": 0,
            "messages": [{"role": "user", "content": CONFIRM_PROMPT}]})
        if reply.status_code >= 400:
            raise DeployError(f"the server loaded {name} but a request naming it answered "
                              f"{reply.status_code}: {reply.text[:500]}")
        body = reply.json()
        if body.get("model") != name:
            raise DeployError(f"a request for {name} was answered by {body.get('model')}")
        content = body["choices"][0]["message"].get("content") or ""
        return json.dumps(content)[:300]
