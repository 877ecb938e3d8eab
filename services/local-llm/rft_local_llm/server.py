"""The local default LLM server: SmolLM2 on the CPU behind the OpenAI chat-completions API.

``python -m rft_local_llm --port 8081`` serves ``/v1/chat/completions``, ``/v1/models``
and ``/health`` on loopback. It serves ``n``, temperature, top_p, max_tokens, stop, seed and
tools (see :mod:`rft_runtime.llm.chat_format`); ``response_format`` is asked for in the prompt,
not enforced. Use :class:`rft_runtime.llm.local_server.LocalLLMServer` to run it from code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from rft_local_llm.batcher import DynamicBatcher
from rft_local_llm.engine import Decoder, PromptJob, Sampling
from rft_runtime.llm.chat_format import answer_prefix, parse_answer, render_turns
from rft_runtime.llm.model_store import ensure_checkpoint
from rft_runtime.llm.protocol import (
    AssistantMessage,
    ChatCompletionRequest,
    ChatCompletionResponse,
    Choice,
    ModelCard,
    ModelList,
    Usage,
)
from rft_runtime.llm.settings import LLMSettings

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 512
DISCONNECT_POLL_S = 0.5

T = TypeVar("T")


class ClientGone(Exception):
    pass


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """``work``'s result, or ClientGone once the client has closed the connection (a client
    timeout): the work is cancelled then, so the decoder drops its rows instead of decoding
    answers nobody will read."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
            if done:
                return task.result()
            if await request.is_disconnected():
                raise ClientGone
    finally:
        task.cancel()


class LoadModelRequest(BaseModel):
    """vLLM's ``/v1/load_lora_adapter`` body; here the path is a merged model directory."""

    lora_name: str = Field(min_length=1, max_length=200)
    lora_path: str


@dataclass
class ServedModel:
    decoder: Decoder
    batcher: DynamicBatcher


class ServedModels:
    """The base model and the models deployed to this server, by name.

    A deployed model is a plain checkpoint directory (step J exports LoRA merged into its
    base). The names and paths are kept in ``served_models.json`` under the cache dir, so a
    restarted server serves what was deployed to it. A request naming no deployed model goes
    to the base model, as before: clients name models loosely.
    """

    def __init__(self, base_name: str, base: Decoder, settings: LLMSettings) -> None:
        self.settings = settings
        self.base_name = base_name
        self.window_s = settings.local_batch_window_ms / 1000
        self.models: dict[str, ServedModel] = {
            base_name: ServedModel(base, DynamicBatcher(base, window_s=self.window_s))}
        self.registry = settings.deployed_models_file()
        self._loading = asyncio.Lock()

    def get(self, name: str) -> tuple[str, ServedModel]:
        if name in self.models:
            return name, self.models[name]
        return self.base_name, self.models[self.base_name]

    def start(self) -> None:
        for model in self.models.values():
            model.batcher.start()

    async def stop(self) -> None:
        for model in self.models.values():
            await model.batcher.stop()

    def recorded(self) -> dict[str, str]:
        try:
            value = json.loads(self.registry.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    async def restore(self) -> None:
        for name, path in self.recorded().items():
            try:
                await self.load(name, Path(path), record=False)
            except (OSError, ValueError) as exc:
                log.warning("could not restore deployed model %s from %s: %s", name, path, exc)

    async def load(self, name: str, path: Path, record: bool = True) -> None:
        if not (path / "config.json").is_file():
            raise ValueError(f"{path} holds no model (config.json); the local server loads a "
                             "merged model directory, as step J's export writes")
        async with self._loading:
            s = self.settings
            decoder = await asyncio.to_thread(
                Decoder, path, threads=s.local_threads,
                prefix_cache_tokens=s.local_prefix_cache_tokens, max_rows=s.local_max_batch,
                max_batch_tokens=s.local_max_batch_tokens)
            old = self.models.get(name)
            served = ServedModel(decoder, DynamicBatcher(decoder, window_s=self.window_s))
            served.batcher.start()
            self.models[name] = served
            if old is not None:
                await old.batcher.stop()
            if record:
                entries = {**self.recorded(), name: str(path)}
                self.registry.parent.mkdir(parents=True, exist_ok=True)
                self.registry.write_text(json.dumps(entries, indent=2))


def build_app(decoder: Decoder, settings: LLMSettings) -> FastAPI:
    served_models = ServedModels(settings.model, decoder, settings)
    batcher = served_models.models[settings.model].batcher

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        served_models.start()
        await served_models.restore()
        yield
        await served_models.stop()

    app = FastAPI(title="rft local LLM", lifespan=lifespan)
    app.state.batcher = batcher
    app.state.models = served_models

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/stats")
    async def stats() -> dict[str, list[int] | int]:
        """Rows per recent batch (were concurrent requests decoded together?), prompt
        tokens served from the prefix cache, and rows dropped because their client left."""
        return {
            "batch_rows": list(decoder.batch_rows),
            "prefix_cache_hit_tokens": decoder.prefixes.hits_tokens,
            "dropped_rows": decoder.dropped_rows,
        }

    @app.get("/v1/models")
    async def models() -> ModelList:
        return ModelList(data=[ModelCard(id=name) for name in served_models.models])

    @app.post("/v1/load_lora_adapter")
    async def load_model(request: LoadModelRequest) -> dict[str, str]:
        try:
            await served_models.load(request.lora_name, Path(request.lora_path))
        except (OSError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        return {"status": "loaded", "model": request.lora_name}

    @app.post("/v1/chat/completions", response_model_exclude_none=True)
    async def chat_completions(
        request: ChatCompletionRequest, http: Request
    ) -> ChatCompletionResponse:
        served, model = served_models.get(request.model)
        decoder = model.decoder
        turns = render_turns(request.messages, request.tools, request.response_format)
        try:
            prefix = answer_prefix(request.tools, request.tool_choice)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        prompt_ids = await asyncio.to_thread(decoder.encode_chat, turns, prefix)
        room = decoder.context_length - len(prompt_ids)
        if room < 1:
            raise HTTPException(
                400, f"prompt has {len(prompt_ids)} tokens; the context holds "
                f"{decoder.context_length}",
            )
        sampling = Sampling(
            temperature=1.0 if request.temperature is None else request.temperature,
            top_p=1.0 if request.top_p is None else request.top_p,
            max_tokens=min(request.max_tokens or DEFAULT_MAX_TOKENS, room),
            stop=tuple(request.stop_list()),
            seed=request.seed,
        )
        try:
            completions = await unless_disconnected(
                http, model.batcher.submit(PromptJob(prompt_ids, request.n, sampling))
            )
        except ClientGone:
            log.info("client gone: dropped a request of %d prompt tokens", len(prompt_ids))
            raise HTTPException(499, "client closed the request") from None
        choices = []
        for index, completion in enumerate(completions):
            answer = parse_answer(prefix + completion.text, request.tools)
            choices.append(
                Choice(
                    index=index,
                    message=AssistantMessage(
                        content=answer.content, tool_calls=answer.tool_calls or None
                    ),
                    finish_reason="tool_calls" if answer.tool_calls else completion.finish_reason,
                )
            )
        completion_tokens = sum(c.completion_tokens for c in completions)
        return ChatCompletionResponse(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=served,
            choices=choices,
            usage=Usage(
                prompt_tokens=len(prompt_ids),
                completion_tokens=completion_tokens,
                total_tokens=len(prompt_ids) + completion_tokens,
            ),
        )

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = LLMSettings()
    began = time.monotonic()
    decoder = Decoder(
        ensure_checkpoint(settings.cache_dir),
        threads=settings.local_threads,
        prefix_cache_tokens=settings.local_prefix_cache_tokens,
        max_rows=settings.local_max_batch,
        max_batch_tokens=settings.local_max_batch_tokens,
    )
    log.info("model loaded in %.1fs", time.monotonic() - began)
    uvicorn.run(build_app(decoder, settings), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
