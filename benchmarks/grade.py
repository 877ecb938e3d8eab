"""Scores per second for each grader type on one core, the python sandbox's overhead, and
rollouts per second on the local model, batched (concurrent requests) against one at a time.

    .venv/bin/python benchmarks/grade.py [--seconds 2] [--rollout-prompts 8] [--no-rollouts]

Rollouts: the local SmolLM2 server (or RFT_LLM_BASE_URL) is started before this process pins
itself to one core, so the model keeps every core; the same requests (same seeds) are sent one
at a time, then all at once. The dry run's grading share is the time the tool_usage preset
takes to grade those rollouts against the batched rollout time plus that grading time.

Input: the 103 items of examples/data/drone_training.jsonl, each graded on a good answer (the
reference tool call, or its text) and a wrong one. Each grader runs through the full path
(templating, the grader, the GradeResult), and its baseline is the bare computation on the
same inputs in the same process: the ratio is what the grading framework costs on top.
Judges are timed with an in-process judge that answers at once, so their figure is the
grader's own overhead, not an LLM's latency. The python grader's baseline is the same
``grade`` function called in-process: the difference is the sandbox's per-sample overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rft_grader import FixedAnswerJudge, Sample, build_grader, grade_many, metrics
from rft_grader.dryrun.prompts import DryRunPrompt
from rft_grader.dryrun.rollouts import GraderCache, roll_out, rollout_requests, score_rollout
from rft_grader.presets import preset_source, tool_usage
from rft_grader.settings import GraderSettings
from rft_runtime.llm import LLMClient, LLMSettings, llm_endpoint
from rft_schemas import Conversation, ToolCall

DATA = Path(__file__).resolve().parents[1] / "examples" / "data" / "drone_training.jsonl"
DRY_RUN_SAMPLES = 1000  # a dry run's default scale: 500 prompts x k=2


def load_pairs() -> list[tuple[Sample, dict[str, Any]]]:
    pairs = []
    for line in DATA.read_text().splitlines():
        conversation = Conversation.model_validate(json.loads(line))
        *prompt, reference = conversation.messages
        calls = [c.model_dump(mode="json", exclude_none=True) for c in reference.tool_calls or []]
        item = {"messages": [m.model_dump(mode="json", exclude_none=True) for m in prompt],
                "tools": [t.model_dump(mode="json", exclude_none=True)
                          for t in conversation.tools or []],
                "reference": json.dumps(calls), "reference_tool_calls": calls}
        good = Sample(output_text=json.dumps(calls),
                      output_tools=[ToolCall.model_validate(c) for c in calls])
        pairs.append((good, item))
        pairs.append((Sample("I am not able to control the drone right now, sorry."), item))
    return pairs


def rate(fn: Callable[[], Any], seconds: float, per_call: int) -> float:
    fn()  # warm: caches, worker start, imports
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        fn()
        count += per_call
    return count / (time.perf_counter() - started)


def grader_rate(config: Any, pairs: list[tuple[Sample, dict[str, Any]]], seconds: float,
                **kw: Any) -> float:
    grader = build_grader(config, **kw)

    async def batch() -> None:
        for sample, item in pairs:
            await grader(sample, item)

    loop = asyncio.new_event_loop()
    try:
        return rate(lambda: loop.run_until_complete(batch()), seconds, len(pairs))
    finally:
        grader.close()
        loop.close()


def baseline_rate(fn: Callable[[Sample, dict[str, Any]], Any],
                  pairs: list[tuple[Sample, dict[str, Any]]], seconds: float) -> float:
    def batch() -> None:
        for sample, item in pairs:
            fn(sample, item)

    return rate(batch, seconds, len(pairs))


def similarity(metric: str) -> dict[str, Any]:
    return {"type": "text_similarity", "name": metric, "evaluation_metric": metric,
            "input": "{{sample.output_text}}", "reference": "{{item.reference}}"}


def rollout_prompts(count: int) -> list[DryRunPrompt]:
    prompts = []
    for number, line in enumerate(DATA.read_text().splitlines()[:count]):
        conversation = Conversation.model_validate(json.loads(line))
        *prompt, reference = conversation.messages
        calls = [c.model_dump(mode="json", exclude_none=True) for c in reference.tool_calls or []]
        prompts.append(DryRunPrompt(f"drone-{number}", "all", prompt, conversation.tools,
                                    {"reference_tool_calls": calls, "reference": ""}))
    return prompts


async def measure_rollouts(llm: LLMSettings, prompts: list[DryRunPrompt], k: int,
                           max_tokens: int) -> dict[str, float]:
    grader_json = json.loads(tool_usage().model_dump_json(exclude_none=True))
    async with LLMClient(llm.model_copy(update={"concurrency": len(prompts) * k})) as client:
        requests = rollout_requests("bench", prompts, k=k, model=client.model,
                                    grader=grader_json, max_tokens=max_tokens,
                                    temperature=1.0, seed=0)
        await roll_out(client, requests[0])  # warm: first-request allocations
        began = time.perf_counter()
        for request in requests:
            await roll_out(client, request)
        sequential_s = time.perf_counter() - began
        began = time.perf_counter()
        rollouts = await asyncio.gather(*(roll_out(client, r) for r in requests))
        batched_s = time.perf_counter() - began
        tokens = sum(r.completion_tokens for r in rollouts)
        prompt_tokens = sum(r.prompt_tokens for r in rollouts)
    graders = GraderCache()
    try:
        grader = graders.get(grader_json)
        await score_rollout(grader, rollouts[0])  # warm: the sandbox worker starts
        began = time.perf_counter()
        await grade_many(grader, [(Sample.from_rollout(r), r.request.item) for r in rollouts])
        grading_s = time.perf_counter() - began
    finally:
        graders.close()
    return {"rollouts": len(requests), "sequential_s": sequential_s, "batched_s": batched_s,
            "grading_s": grading_s, "tokens": tokens, "prompt_tokens": prompt_tokens}


def print_rollouts(figures: dict[str, float], max_tokens: int) -> None:
    n = figures["rollouts"]
    sequential = n / figures["sequential_s"]
    batched = n / figures["batched_s"]
    share = figures["grading_s"] / (figures["batched_s"] + figures["grading_s"])
    print(f"\nrollouts on the local model ({n:.0f} rollouts = prompts x k, max_tokens "
          f"{max_tokens}; the batched run read {figures['prompt_tokens']:.0f} prompt tokens and "
          f"wrote {figures['tokens']:.0f})")
    print(f"{'batched (all requests at once)':38s} {batched:10.2f} rollouts/s")
    print(f"{'one request at a time (baseline)':38s} {sequential:10.2f} rollouts/s")
    print(f"{'ratio':38s} {batched / sequential:10.2f}x")
    print(f"dry-run time spent grading (tool_usage preset, outside LLM judges): {share:.1%} "
          f"({figures['grading_s']:.2f} s grading vs {figures['batched_s']:.2f} s rolling out; "
          f"target < 10%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--no-pin", action="store_true",
                        help="let the sandbox worker run on another core than the caller")
    parser.add_argument("--no-rollouts", action="store_true", help="skip the local-model part")
    parser.add_argument("--no-graders", action="store_true", help="skip the per-grader part")
    parser.add_argument("--rollout-prompts", type=int, default=8)
    parser.add_argument("-k", type=int, default=2, help="samples per prompt")
    parser.add_argument("--rollout-max-tokens", type=int, default=32)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        llm = None if args.no_rollouts else stack.enter_context(llm_endpoint(LLMSettings()))
        if not args.no_graders:
            grader_benchmark(args)
        if llm is not None:
            figures = asyncio.run(measure_rollouts(llm, rollout_prompts(args.rollout_prompts),
                                                   args.k, args.rollout_max_tokens))
            print_rollouts(figures, args.rollout_max_tokens)


def grader_benchmark(args: argparse.Namespace) -> None:
    if not args.no_pin:
        # One core, for the parent and (inherited) the sandbox workers: the figure is per
        # core, and every sandboxed sample costs two context switches on it.
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    pairs = load_pairs()
    s = args.seconds

    def similarity_baseline(fn: Callable[[str, str], float]) -> Callable[..., float]:
        return lambda sample, item: fn(sample.output_text, item["reference"])

    judge_answer = '{"result": 1}'
    python_source = ("def grade(sample, item):\n"
                     "    return 1.0 if item['reference'] in sample['output_text'] else 0.0\n")
    namespace: dict[str, Any] = {}
    exec(python_source, namespace)  # the benchmark's own trusted code, as the baseline
    in_process = namespace["grade"]
    tool_namespace: dict[str, Any] = {}
    exec(preset_source("tool_usage", DIMENSION="tool_selection"), tool_namespace)

    def tool_usage_in_process(sample: Sample, item: dict[str, Any]) -> float:
        ns = sample.as_namespace()
        dims = tool_namespace["DIMENSIONS"]
        return (0.4 * dims["tool_selection"](ns, item) + 0.3 * dims["tool_input"](ns, item)
                + 0.3 * dims["result_usage"](ns, item))

    rows: list[tuple[str, float, str, float]] = []
    wordnet_dir = GraderSettings().grader_wordnet_dir
    string_check = {"type": "string_check", "name": "s", "operation": "ilike",
                    "input": "{{sample.output_text}}", "reference": "{{item.reference}}"}
    rows.append(("string_check ilike", grader_rate(string_check, pairs, s), "str.casefold in",
                 baseline_rate(lambda a, i: i["reference"].casefold()
                               in a.output_text.casefold(), pairs, s)))
    for metric, fn in [
        ("fuzzy_match", metrics.fuzzy_match), ("bleu", metrics.bleu), ("gleu", metrics.gleu),
        ("rouge_1", lambda a, b: metrics.rouge("rouge1", a, b)),
        ("rouge_l", lambda a, b: metrics.rouge("rougeL", a, b)),
        # WordNet from `make install`, loaded once and then cached
        ("meteor", lambda a, b: metrics.meteor(a, b, wordnet_dir)),
    ]:
        rows.append((f"text_similarity {metric}", grader_rate(similarity(metric), pairs, s),
                     "metric function alone", baseline_rate(similarity_baseline(fn), pairs, s)))
    score_model = {"type": "score_model", "name": "j", "model": "m",
                   "input": [{"role": "user", "content": "{{item.reference}} vs "
                                                         "{{sample.output_text}}"}]}
    rows.append(("score_model (instant judge)",
                 grader_rate(score_model, pairs, s, judge=FixedAnswerJudge([judge_answer])),
                 "json.loads of the answer",
                 baseline_rate(lambda a, i: json.loads(judge_answer)["result"], pairs, s)))
    label_model = {"type": "label_model", "name": "l", "model": "m", "labels": ["ok", "bad"],
                   "passing_labels": ["ok"],
                   "input": [{"role": "user", "content": "{{sample.output_text}}"}]}
    rows.append(("label_model (instant judge)",
                 grader_rate(label_model, pairs, s, judge=FixedAnswerJudge(['{"result": "ok"}'])),
                 "json.loads of the answer",
                 baseline_rate(lambda a, i: json.loads('{"result": "ok"}'), pairs, s)))
    python_rate = grader_rate({"type": "python", "name": "p", "source": python_source}, pairs, s)
    python_baseline = baseline_rate(lambda a, i: in_process(a.as_namespace(), i), pairs, s)
    rows.append(("python (sandbox)", python_rate, "same grade() in-process", python_baseline))
    rows.append(("multi: tool_usage preset (3 python)", grader_rate(tool_usage(), pairs, s),
                 "same 3 functions in-process", baseline_rate(tool_usage_in_process, pairs, s)))

    where = "all cores, not pinned" if args.no_pin else "one core"
    print(f"grader throughput on {where} ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores on the machine, shared with other work), "
          f"{len(pairs)} samples from drone_training.jsonl, {s:g} s per figure")
    print(f"{'grader':38s} {'scores/s':>10s}  {'baseline':26s} {'base/s':>10s} {'ratio':>6s}"
          f"  {'1000 samples':>12s}")
    for name, value, base_name, base in rows:
        print(f"{name:38s} {value:10.0f}  {base_name:26s} {base:10.0f} {base / value:6.1f}x"
              f"  {DRY_RUN_SAMPLES / value:10.2f} s")
    overhead_us = (1 / python_rate - 1 / python_baseline) * 1e6
    print(f"\npython sandbox per-sample overhead: {overhead_us:.0f} us "
          f"(sandboxed {1e6 / python_rate:.0f} us vs in-process {1e6 / python_baseline:.1f} us)")
    print(f"a dry run of {DRY_RUN_SAMPLES} samples spends at most "
          f"{max(DRY_RUN_SAMPLES / r[1] for r in rows if 'judge' not in r[0]):.2f} s grading "
          f"outside LLM judges")


if __name__ == "__main__":
    main()
