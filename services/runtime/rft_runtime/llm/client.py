"""The one OpenAI-compatible chat-completions client every LLM call in the platform goes through.

Async over httpx. Retries 429, 5xx and connection errors with capped exponential backoff and full
jitter (honouring ``Retry-After``), then raises :class:`LLMUnavailableError` naming the endpoint.
Other 4xx answers are the caller's mistake and raise :class:`LLMRequestError` at once. A semaphore
bounds the requests in flight; usage totals and Prometheus metrics count every answer.

Servers that answer fewer choices than ``n`` (llama.cpp answers one) are fanned out: the client
asks for the missing samples in separate requests (seed + k for sample k, when seeded) and merges
them, so callers always get ``n`` choices.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
from prometheus_client import REGISTRY, CollectorRegistry
from pydantic import BaseModel, ValidationError

from rft_runtime.llm.metrics import LLMMetrics, llm_metrics
from rft_runtime.llm.protocol import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    JsonSchemaFormat,
    ModelList,
    ResponseFormat,
    Usage,
)
from rft_runtime.llm.settings import LLMSettings
from rft_schemas.conversation import Message, ToolSpec

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class LLMError(RuntimeError):
    """An LLM call that did not produce an answer."""


class LLMUnavailableError(LLMError):
    """The endpoint kept failing (429/5xx/connection) through every allowed attempt."""

    def __init__(self, endpoint: str, attempts: int, last_error: str) -> None:
        super().__init__(
            f"LLM endpoint {endpoint} failed {attempts} attempt(s); last error: {last_error}"
        )
        self.endpoint = endpoint
        self.attempts = attempts
        self.last_error = last_error


class LLMRequestError(LLMError):
    """The endpoint refused the request itself (a 4xx other than 429): retrying cannot help."""

    def __init__(self, endpoint: str, status: int, body: str) -> None:
        super().__init__(f"LLM endpoint {endpoint} answered {status}: {body[:500]}")
        self.endpoint = endpoint
        self.status = status
        self.body = body


class LLMResponseError(LLMError):
    """The endpoint answered 200 with a body that is not a chat completion."""


@dataclass
class UsageTotals:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def json_schema_format(model: type[BaseModel], strict: bool = True) -> ResponseFormat:
    """``response_format`` asking for JSON that validates as ``model`` (vLLM enforces it)."""
    return ResponseFormat(
        type="json_schema",
        json_schema=JsonSchemaFormat.model_validate(
            {"name": model.__name__, "schema": model.model_json_schema(), "strict": strict}
        ),
    )


class LLMClient:
    def __init__(
        self,
        settings: LLMSettings | None = None,
        *,
        base_url: str | None = None,
        registry: CollectorRegistry = REGISTRY,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings or LLMSettings()
        url = base_url or self.settings.base_url
        if not url:
            raise ValueError(
                "no LLM endpoint: set RFT_LLM_BASE_URL, or start the local server "
                "(rft_runtime.llm.local_server.llm_endpoint)"
            )
        self.base_url = url.rstrip("/")
        self.model = self.settings.model
        headers = {}
        if self.settings.api_key is not None:
            headers["Authorization"] = f"Bearer {self.settings.api_key.get_secret_value()}"
        timeout = httpx.Timeout(self.settings.timeout_s, connect=min(10.0, self.settings.timeout_s))
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=self.settings.concurrency),
        )
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        self._metrics: LLMMetrics = llm_metrics(registry)
        self.usage = UsageTotals()

    async def complete(
        self,
        messages: list[Message] | list[dict[str, Any]],
        *,
        tools: list[ToolSpec] | list[dict[str, Any]] | None = None,
        n: int = 1,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: str | list[str] | None = None,
        seed: int | None = None,
        response_format: ResponseFormat | None = None,
        model: str | None = None,
        **extra: Any,
    ) -> ChatCompletionResponse:
        """One chat completion with ``n`` choices; ``extra`` passes server-specific fields."""
        request = ChatCompletionRequest.model_validate(
            {
                "model": model or self.model,
                "messages": messages,
                "tools": tools,
                "n": n,
                "temperature": temperature,
                "top_p": top_p,
                "max_tokens": max_tokens,
                "stop": stop,
                "seed": seed,
                "response_format": response_format,
                **extra,
            }
        )
        return await self.chat(request)

    async def chat(self, request: ChatCompletionRequest) -> ChatCompletionResponse:
        response = await self._post(request)
        missing = request.n - len(response.choices)
        if missing <= 0:
            return response
        extra = await asyncio.gather(
            *(self._post(self._one_more(request, k)) for k in range(len(response.choices),
                                                                    request.n))
        )
        return _merged(response, extra, request.n)

    @staticmethod
    def _one_more(request: ChatCompletionRequest, sample_index: int) -> ChatCompletionRequest:
        seed = None if request.seed is None else request.seed + sample_index
        return request.model_copy(update={"n": 1, "seed": seed})

    async def models(self) -> list[str]:
        response = await self._send("GET", "/models", None)
        return [card.id for card in ModelList.model_validate_json(response.content).data]

    async def _post(self, request: ChatCompletionRequest) -> ChatCompletionResponse:
        body = request.model_dump(mode="json", exclude_none=True, by_alias=True)
        response = await self._send("POST", "/chat/completions", body)
        try:
            parsed = ChatCompletionResponse.model_validate_json(response.content)
        except ValidationError as error:
            raise LLMResponseError(
                f"LLM endpoint {self.base_url} answered a body that is not a chat completion: "
                f"{error.errors()[:3]}"
            ) from None
        self._count(request.model, parsed.usage)
        return parsed

    async def _send(self, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        url = f"{self.base_url}{path}"
        model = str(body.get("model", "")) if body else ""
        attempts = self.settings.max_retries + 1
        last_error = ""
        for attempt in range(attempts):
            retry_after: float | None = None
            async with self._slots:
                began = asyncio.get_running_loop().time()
                try:
                    response = await self._http.request(method, url, json=body)
                except httpx.TransportError as error:  # connect, read, timeouts
                    last_error = f"{type(error).__name__}: {error}" if str(error) else type(
                        error
                    ).__name__
                    self._metrics.requests.labels(self.base_url, model, type(error).__name__).inc()
                else:
                    self._metrics.latency_seconds.labels(self.base_url, model).observe(
                        asyncio.get_running_loop().time() - began
                    )
                    self._metrics.requests.labels(
                        self.base_url, model, str(response.status_code)
                    ).inc()
                    if response.is_success:
                        return response
                    if response.status_code not in RETRYABLE_STATUS:
                        raise LLMRequestError(url, response.status_code, response.text)
                    last_error = f"{response.status_code} {response.text[:200]}"
                    retry_after = _retry_after_s(response)
            if attempt + 1 < attempts:
                self._metrics.retries.labels(self.base_url, model).inc()
                await asyncio.sleep(self._backoff_s(attempt, retry_after))
        raise LLMUnavailableError(url, attempts, last_error)

    def _backoff_s(self, attempt: int, retry_after: float | None) -> float:
        cap = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2**attempt)
        # Full jitter: clients that failed together do not come back together.
        delay = random.uniform(0, cap)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.settings.backoff_max_s))
        return delay

    def _count(self, model: str, usage: Usage | None) -> None:
        self.usage.requests += 1
        if usage is None:
            return
        self.usage.prompt_tokens += usage.prompt_tokens
        self.usage.completion_tokens += usage.completion_tokens
        self._metrics.tokens.labels(self.base_url, model, "prompt").inc(usage.prompt_tokens)
        self._metrics.tokens.labels(self.base_url, model, "completion").inc(
            usage.completion_tokens
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # A service's app manages the client like its other resources (rft_runtime.http.Managed).
    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.aclose()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from LLM servers, fall back to backoff


def _merged(
    first: ChatCompletionResponse, more: list[ChatCompletionResponse], n: int
) -> ChatCompletionResponse:
    choices = list(first.choices)
    usage = Usage(**(first.usage.model_dump() if first.usage else {}))
    for response in more:
        choices.extend(response.choices)
        if response.usage is not None:
            usage.prompt_tokens += response.usage.prompt_tokens
            usage.completion_tokens += response.usage.completion_tokens
            usage.total_tokens += response.usage.total_tokens
    renumbered = [c.model_copy(update={"index": i}) for i, c in enumerate(choices[:n])]
    return first.model_copy(update={"choices": renumbered, "usage": usage})
