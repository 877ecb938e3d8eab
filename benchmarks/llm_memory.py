"""Peak memory of the local SmolLM2 server under concurrent long prompts, with and without
its KV-token budget (RFT_LLM_LOCAL_MAX_BATCH_TOKENS).

    .venv/bin/python benchmarks/llm_memory.py [--requests 16] [--words 5000]

Input: ``--requests`` distinct prompts of about ``--words`` tokens each (a fixed sentence
rotated per request, so no two share a prefix), sent at once, 16 tokens answered greedily.
Ours is the server with the default budget; the baseline is the same server with the budget
set out of reach (one batch takes every request). Peak memory is the server process's VmHWM
(the kernel's high-water mark of its resident set), read after the last answer. Each run
starts its own server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

from rft_runtime.llm.local_server import LocalLLMServer
from rft_runtime.llm.settings import LLMSettings

SENTENCE_TEXT = (
    "the drone flies over the river and lands near the old bridge at dusk while the pilot "
    "checks the battery"
)
SENTENCE = SENTENCE_TEXT.split()


def long_prompt(request: int, words: int) -> list[dict[str, str]]:
    text = " ".join(SENTENCE[(request + k) % len(SENTENCE)] for k in range(words))
    return [{"role": "user", "content": f"Request {request}: summarise this. {text}"}]


def peak_rss_gb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1e6  # kB -> GB
    raise RuntimeError("no VmHWM in /proc (Linux only)")


@dataclass(frozen=True)
class Run:
    peak_gb: float
    prompt_tokens: int
    batch_rows: list[int]
    seconds: float


async def measure(budget: int, requests: int, words: int, log_dir: Path) -> Run:
    server = LocalLLMServer(LLMSettings(local_max_batch_tokens=budget),
                            log_path=log_dir / f"server-{budget}.log")
    server.start()
    try:
        assert server.process is not None
        async with httpx.AsyncClient(base_url=server.base_url, timeout=3600) as http:
            began = time.monotonic()
            replies = await asyncio.gather(*(
                http.post("/chat/completions", json={
                    "model": "SmolLM2-135M-Instruct", "messages": long_prompt(i, words),
                    "max_tokens": 16, "temperature": 0,
                })
                for i in range(requests)
            ))
            seconds = time.monotonic() - began
            stats = (await http.get(server.base_url.removesuffix("/v1") + "/stats")).json()
        assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
        return Run(peak_rss_gb(server.process.pid), replies[0].json()["usage"]["prompt_tokens"],
                   stats["batch_rows"], seconds)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--words", type=int, default=5000)
    args = parser.parse_args()
    default = LLMSettings().local_max_batch_tokens
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"{args.requests} concurrent requests, max_tokens 16")
    with TemporaryDirectory(prefix="rft-llm-memory-") as tmp:
        runs = []
        budgets = (("baseline, no budget", 10**12), (f"ours, budget {default:,}", default))
        for name, budget in budgets:
            run = asyncio.run(measure(budget, args.requests, args.words, Path(tmp)))
            runs.append(run)
            print(f"{name:24s} peak RSS {run.peak_gb:.2f} GB  prompt tokens "
                  f"{run.prompt_tokens:,}  rows per join {run.batch_rows}  {run.seconds:.0f} s",
                  flush=True)
    base, ours = runs
    print(f"peak RSS ours / baseline: {ours.peak_gb / base.peak_gb:.2f}")


if __name__ == "__main__":
    main()
