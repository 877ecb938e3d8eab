"""`rft submit`: the journey through the running stack's services, as a cluster runs it.

Trace files go to the sanitizer's API (which publishes the prompts on, as an exporter's stream
would); the command waits until the embedder and the categorizer have consumed everything (their
consumer groups' backlogs, read from the broker); the topics come from the categorizer (a
hierarchy file, or discovery); then the trainer gateway's journey runs F to H or J, followed by
its event stream. Every result stays in the services' stores, so the web console shows each
step. Nothing here does a step's work: the services do, with the code `rft run` calls.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rft_cli import stack
from rft_runtime.http.auth import auth_headers
from rft_runtime.http.sse import DONE, EventStreamRefused, open_event_stream, parse_events
from rft_runtime.kafka.backlog import NotCaughtUp, wait_caught_up
from rft_runtime.settings import RuntimeSettings
from rft_schemas import Journey, JourneyStep, SanitizeReport, StepStatus

Say = Callable[[str], None]
UPLOAD_TIMEOUT = httpx.Timeout(900.0, connect=10.0)  # the sanitizer answers once it is done


class SubmitError(RuntimeError):
    """What stopped the submission, in one line for the user."""


@dataclass(frozen=True)
class Stack:
    """Where the running stack's parts listen (`rft up`'s state file)."""

    ports: dict[str, int]
    bootstrap: str

    @classmethod
    def running(cls, settings: RuntimeSettings) -> Stack:
        processes = [p for p in stack.read_state(settings) if stack.alive(p)]
        ports = {p.name: p.port for p in processes}
        missing = [n for n in ("sanitizer", "categorizer", "trainer-gateway") if n not in ports]
        if missing:
            raise SubmitError(f"no running stack in {settings.data_dir} ({', '.join(missing)} "
                              f"not up): start it with `rft up` (same RFT_DATA_DIR)")
        bootstrap = settings.kafka_bootstrap or (
            f"127.0.0.1:{ports['broker']}" if "broker" in ports else "")
        if not bootstrap:
            raise SubmitError("the stack has no local broker and RFT_KAFKA_BOOTSTRAP is unset")
        return cls(ports, bootstrap)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def console_url(self) -> str | None:
        return self.url("console") if "console" in self.ports else None


def answer_of(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        raise refusal(response, what)
    return response.json()


def refusal(response: httpx.Response, what: str) -> SubmitError:
    return SubmitError(f"{what}: {response.status_code} {response.text[:300]}")


async def upload(client: httpx.AsyncClient, running: Stack, dataset: str, files: list[Path],
                 say: Say) -> int:
    """Step A in the sanitizer; returns the prompts it kept."""
    kept = 0
    for path in files:
        answer = await client.post(
            f"{running.url('sanitizer')}/v1/datasets/{dataset}/traces",
            content=await asyncio.to_thread(path.read_bytes), timeout=UPLOAD_TIMEOUT,
            headers={"Content-Type": "application/octet-stream"},
        )
        report = SanitizeReport.model_validate(answer_of(answer, f"the sanitizer on {path}"))
        rejected = ", ".join(f"{reason} {n}" for reason, n in sorted(report.rejected.items()))
        say(f"A  {path.name}: {report.input} records, {report.prompts} prompts kept"
            + (f", rejected: {rejected}" if rejected else ""))
        kept += report.prompts
    return kept


async def topics(client: httpx.AsyncClient, running: Stack, dataset: str,
                 hierarchy_file: Path | None, say: Say) -> None:
    """Step B in the categorizer (which categorizes every prompt again: step C)."""
    base = f"{running.url('categorizer')}/v1/datasets/{dataset}"
    if hierarchy_file is not None:
        body = await asyncio.to_thread(hierarchy_file.read_bytes)
        answer = await client.put(f"{base}/topics", content=body, timeout=UPLOAD_TIMEOUT)
        how = f"from {hierarchy_file}"
    elif (await client.get(f"{base}/topics")).status_code == 404:
        answer = await client.post(f"{base}/topics:discover", json={}, timeout=UPLOAD_TIMEOUT)
        how = "discovered"
    else:
        say("B  the dataset's topic hierarchy stands; new prompts were categorized against it")
        return
    change = answer_of(answer, "the categorizer")
    leaves = sum(1 for t in change["hierarchy"]["topics"] for _ in _leaves(t))
    say(f"B  topics {how}: {leaves} leaves; C  {change['recategorized']} prompts categorized, "
        f"{change['needs_review']} flagged for review")


def _leaves(topic: dict[str, Any]) -> list[dict[str, Any]]:
    children = topic.get("children") or []
    return [leaf for child in children for leaf in _leaves(child)] if children else [topic]


def describe(step: JourneyStep) -> str:
    line = f"{step.step}  {step.title}: {step.status.value}"
    if step.reason:
        return f"{line} ({step.reason})"
    if step.split and step.status is StepStatus.DONE:
        line += f" ({step.split.train_rows} train / {step.split.valid_rows} valid rows)"
    if step.grader and step.status is StepStatus.DONE:
        line += f" ({step.grader.name}, {step.grader.source})"
    if step.dry_run:
        run = step.dry_run
        line += f" ({run.done}/{run.total} rollouts" + (
            f", {run.verdict.value}" if run.verdict else "") + ")"
    if step.training:
        line += f" (step {step.training.step}/{step.training.total_steps})"
    if step.results:
        line += (f" (mean reward {step.results.before_mean:.3f} -> "
                 f"{step.results.after_mean:.3f}; deployable: {step.results.deployable})")
    return line


async def journey(client: httpx.AsyncClient, running: Stack, dataset: str, until: str,
                  say: Say) -> Journey:
    """Steps F to ``until`` by the gateway, followed by its event stream to the end."""
    base = f"{running.url('trainer-gateway')}/v1/datasets/{dataset}/journey"
    answer_of(await client.post(base, json={"until": until}), "the trainer gateway")
    shown: dict[str, str] = {}
    final: Journey | None = None
    try:
        events = await open_event_stream(client, f"{base}/events",
                                         request_timeout=httpx.Timeout(None, connect=10.0))
    except EventStreamRefused as refused:
        raise refusal(refused.response, "the trainer gateway's journey events") from None
    try:
        async for event in parse_events(events.aiter_lines()):
            state = Journey.model_validate_json(event.data)
            for step in state.steps:
                line = describe(step)
                if step.status is not StepStatus.PENDING and shown.get(step.step) != line:
                    shown[step.step] = line
                    say(line)
            if event.event == DONE:
                final = state
    finally:
        await events.aclose()
    if final is None:
        raise SubmitError("the journey's event stream ended before the journey did")
    return final


async def submit(settings: RuntimeSettings, files: list[Path], dataset: str, until: str,
                 hierarchy_file: Path | None, wait_s: float, say: Say) -> Journey | None:
    running = Stack.running(settings)
    async with httpx.AsyncClient(headers=auth_headers(settings.api_token),
                                 timeout=60.0) as client:
        await upload(client, running, dataset, files, say)
        # The prompts go on by Kafka: embedded, then categorized, before topics can be chosen.
        from rft_categorizer.kafka_stages import CATEGORIZER
        from rft_embedder.kafka_stages import EMBEDDER

        broker = settings.model_copy(update={"kafka_bootstrap": running.bootstrap})
        try:
            await wait_caught_up(broker, [EMBEDDER, CATEGORIZER], wait_s)
        except NotCaughtUp as error:
            raise SubmitError(f"the stream did not catch up: {error}") from None
        say("   every prompt is embedded and categorized")
        await topics(client, running, dataset, hierarchy_file, say)
        coverage = answer_of(
            await client.get(f"{running.url('categorizer')}/v1/datasets/{dataset}/coverage"),
            "the categorizer's coverage")
        gaps = [t for t in coverage["topics"] if t.get("recommended_generate")]
        say(f"D  coverage: {len(coverage['topics'])} topics, {len(gaps)} below their target")
        if until == "D":
            return None
        return await journey(client, running, dataset, until, say)


def console_hint(running_console: str | None, dataset: str) -> str:
    if running_console is None:
        return "The stack runs no console (see `rft up`)."
    return f"Open the console on this dataset: {running_console}/d/{dataset}/sanitize"


def journey_json(final: Journey) -> str:
    return json.dumps(final.model_dump(mode="json"), indent=2)
