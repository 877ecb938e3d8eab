"""Tokens per second of the local SmolLM2 server at batch 1 and over 8 concurrent requests.

    .venv/bin/python benchmarks/llm_server.py [--requests 8] [--max-tokens 48] [--no-tools]

Input: the first N records of examples/data/drone_training.jsonl, each sent as the platform
sends a prompt (its messages up to the last user turn, its ``tools``), temperature 0.7, a
fixed seed per prompt. The baseline is the same N requests sent one after another (batch 1);
ours is the same N requests sent at once, which the server's dynamic batcher decodes together.
Figures are completion tokens over wall seconds, prefill included, through the full HTTP path
(the platform's client, the OpenAI API, tool parsing). The server is started once, warmed up,
and serves both runs. Note the load average printed: on a shared CPU it moves the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from rft_runtime.llm.client import LLMClient
from rft_runtime.llm.local_server import LocalLLMServer
from rft_runtime.llm.protocol import ChatCompletionResponse
from rft_runtime.llm.settings import LLMSettings

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"


def drone_prompts(count: int, with_tools: bool) -> list[dict[str, Any]]:
    prompts = []
    for line in (DATA / "drone_training.jsonl").read_text().splitlines()[:count]:
        record = json.loads(line)
        messages = record["messages"]
        last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
        prompts.append(
            {"messages": messages[: last_user + 1],
             "tools": record.get("tools") if with_tools else None}
        )
    return prompts


async def one(client: LLMClient, prompt: dict[str, Any], seed: int, max_tokens: int
              ) -> ChatCompletionResponse:
    return await client.complete(
        prompt["messages"], tools=prompt["tools"], temperature=0.7, max_tokens=max_tokens,
        seed=seed,
    )


def tokens(responses: list[ChatCompletionResponse]) -> int:
    return sum(r.usage.completion_tokens for r in responses if r.usage)


async def measure(base_url: str, prompts: list[dict[str, Any]], max_tokens: int) -> None:
    settings = LLMSettings(timeout_s=600, max_retries=0, concurrency=len(prompts))
    async with LLMClient(settings, base_url=base_url, registry=CollectorRegistry()) as client:
        await one(client, prompts[0], 0, 8)  # warm-up: first-call allocations

        began = time.perf_counter()
        sequential = [await one(client, p, i, max_tokens) for i, p in enumerate(prompts)]
        sequential_s = time.perf_counter() - began

        began = time.perf_counter()
        concurrent = await asyncio.gather(
            *(one(client, p, i, max_tokens) for i, p in enumerate(prompts))
        )
        concurrent_s = time.perf_counter() - began

    async with httpx.AsyncClient() as http:
        batches = (await http.get(base_url.removesuffix("/v1") + "/stats")).json()["batch_rows"]
    base_rate = tokens(sequential) / sequential_s
    ours_rate = tokens(list(concurrent)) / concurrent_s
    prompt_tokens = [r.usage.prompt_tokens for r in sequential if r.usage]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} (a shared CPU moves these figures)")
    print(f"requests: {len(prompts)}, prompt tokens {min(prompt_tokens)}-{max(prompt_tokens)}, "
          f"max_tokens {max_tokens}")
    print(f"batch 1 (sequential):  {tokens(sequential):4d} tokens in {sequential_s:6.1f}s = "
          f"{base_rate:6.1f} tokens/s")
    print(f"{len(prompts)} concurrent:          {tokens(list(concurrent)):4d} tokens in "
          f"{concurrent_s:6.1f}s = {ours_rate:6.1f} tokens/s")
    print(f"ratio concurrent/batch-1: {ours_rate / base_rate:.2f}x "
          f"(batch rows of the concurrent run: {batches[-3:]})")
    sample = concurrent[0].choices[0].message
    print(f"sample answer: content={sample.content!r} tool_calls="
          f"{[c.function.model_dump() for c in sample.tool_calls or []]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--no-tools", action="store_true")
    args = parser.parse_args()
    prompts = drone_prompts(args.requests, with_tools=not args.no_tools)
    began = time.perf_counter()
    with LocalLLMServer(LLMSettings()) as server:
        print(f"server up in {time.perf_counter() - began:.1f}s at {server.base_url}")
        asyncio.run(measure(server.base_url, prompts, args.max_tokens))


if __name__ == "__main__":
    main()
