"""Accepted synthetic prompts per minute on the local SmolLM2 server (CPU), the validation pass
rate, and the time split between LLM calls and validation.

    .venv/bin/python benchmarks/generate.py [--target 6] [--per-request 8] [--max-tokens 40]

Input: the 103 drone traces of examples/data/drone_training.jsonl through the sanitizer's core,
split into topics drone/camera (16) and drone/flight (87) by a keyword rule. Ours: a generation
job asking for ``--target`` camera prompts and ``--target // 2`` flight prompts, both topics at
once, ``--per-request`` candidates per request (the server decodes them as one batch). Baseline:
the same job with one candidate per request, topics one after another (batch-1 speed). Both run
on one warmed-up server, fresh job stores and vector stores. Target: validation (structure,
embedding, novelty query, topic check) adds less than 10% to the LLM time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import tempfile
import time
from pathlib import Path

from rft_embedder import EmbedderSettings, load_embedder
from rft_generator import GeneratorSettings, open_job_store, run_generation
from rft_runtime.llm import LLMSettings, LocalLLMServer
from rft_runtime.vectorstore.edge import EdgeVectorStore
from rft_sanitizer import Policy, load_token_counter, sanitize
from rft_sanitizer.core import Accepted
from rft_schemas import (
    CategorizationMethod,
    CategorizedPrompt,
    GenerationRequest,
    RawTrace,
    SourceLocation,
)

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
CAMERA = re.compile(r"photo|picture|camera|video|record|film|capture", re.IGNORECASE)


def drone_categorized(policy: Policy) -> list[CategorizedPrompt]:
    path = DATA / "drone_training.jsonl"
    out = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        outcome = sanitize(RawTrace(id=f"drone-{number}", dataset="drone", payload=line,
                                    source=SourceLocation(uri=str(path), line=number)), policy)
        if isinstance(outcome, Accepted):
            for prompt in outcome.prompts:
                leaf = "camera" if CAMERA.search(prompt.messages[-1].text()) else "flight"
                out.append(CategorizedPrompt(prompt=prompt, topic_path=["drone", leaf],
                                             confidence=1.0, method=CategorizationMethod.MANUAL,
                                             hierarchy_version=1))
    return out


async def one_job(
    name: str, targets: dict[str, int], per_request: int, max_tokens: int, sequential: bool,
    categorized: list[CategorizedPrompt], llm: LLMSettings, policy: Policy, work: Path,
) -> dict[str, float]:
    embedder = load_embedder(EmbedderSettings(backend="onnx"), work / "models")
    store = open_job_store(f"sqlite:///{work / name / 'jobs.sqlite'}")
    vectors = EdgeVectorStore(work / name / "qdrant")
    settings = GeneratorSettings(data_dir=work / name)
    # Sequential: each topic its own job, one after the other (no two requests in flight).
    groups = [{t: n} for t, n in targets.items()] if sequential else [targets]
    accepted = attempts = 0
    llm_s = validation_s = 0.0
    began = time.perf_counter()
    for index, group in enumerate(groups):
        request = GenerationRequest(
            id=f"{name}-{index}", dataset="drone", targets=group, max_tokens=max_tokens,
            candidates_per_request=per_request, max_attempts_per_prompt=10, temperature=0.7,
            seed=1,
        )
        result = await run_generation(request, categorized, store, vectors, llm, settings,
                                      embedder=embedder, policy=policy)
        accepted += sum(t.generated for t in result.job.topics)
        attempts += sum(t.attempts for t in result.job.topics)
        llm_s += result.timings.llm_s
        validation_s += result.timings.validation_s
    wall = time.perf_counter() - began
    vectors.close()
    store.close()
    return {"accepted": accepted, "attempts": attempts, "wall_s": wall, "llm_s": llm_s,
            "validation_s": validation_s}


def report(name: str, figures: dict[str, float]) -> None:
    per_min = figures["accepted"] / figures["wall_s"] * 60
    rate = figures["accepted"] / figures["attempts"] if figures["attempts"] else 0.0
    share = figures["validation_s"] / figures["llm_s"] if figures["llm_s"] else 0.0
    print(f"{name:<9} {figures['accepted']:>3.0f} accepted of {figures['attempts']:>3.0f} "
          f"({rate:.0%} pass) in {figures['wall_s']:6.1f} s = {per_min:5.1f} prompts/min; "
          f"LLM {figures['llm_s']:6.1f} s, validation {figures['validation_s']:5.2f} s "
          f"(+{share:.1%} of LLM time)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", type=int, default=6)
    parser.add_argument("--per-request", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=40)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} (a shared CPU moves these figures)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        policy = Policy(counter=load_token_counter("smollm2-135m-instruct", work / "tok"),
                        min_tokens=4)
        categorized = drone_categorized(policy)
        targets = {"drone/camera": args.target, "drone/flight": max(1, args.target // 2)}
        with LocalLLMServer(LLMSettings()) as server:
            llm = LLMSettings(base_url=server.base_url)
            await one_job("warmup", {"drone/camera": 1}, 2, 8, False, categorized, llm, policy,
                          work)
            ours = await one_job("batched", targets, args.per_request, args.max_tokens, False,
                                 categorized, llm, policy, work)
            report("batched", ours)
            if not args.no_baseline:
                base = await one_job("batch-1", targets, 1, args.max_tokens, True, categorized,
                                     llm, policy, work)
                report("batch-1", base)
                ratio = (ours["accepted"] / ours["wall_s"]) / (base["accepted"] / base["wall_s"])
                print(f"batched / batch-1 accepted prompts per minute: {ratio:.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
