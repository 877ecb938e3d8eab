"""The real :class:`~rft_grader.judging.JudgeClient`: judge prompts through the platform's one
OpenAI-compatible client (vLLM, OpenAI, the local SmolLM2 server).

The structured result is asked for with ``response_format: json_schema``. A server that refuses
that field (a 4xx naming it) is asked again without it, and remembered as one that cannot: the
grader's own instruction still asks for the JSON object, and the grader parses and counts
answers that are not one. A server that is down raises, so the grader retries then flags.
"""

from __future__ import annotations

from typing import Any

from rft_grader.judging import JudgeReply
from rft_runtime.llm import LLMClient, LLMRequestError
from rft_runtime.llm.protocol import ResponseFormat
from rft_schemas.grader import SamplingParams

# OpenAI's preset configs name their judge model; a config written with this placeholder
# (the presets' default) is judged by whatever model the endpoint serves.
PLACEHOLDER_MODEL = "judge"


class LLMJudge:
    def __init__(self, client: LLMClient, *, model: str | None = None,
                 max_tokens: int | None = None, structured_output: bool = True) -> None:
        """``model`` overrides every config's judge model (one served model, e.g. locally);
        ``max_tokens`` caps answers whose config sets no ``max_completions_tokens``."""
        self.client = client
        self.model = model
        self.max_tokens = max_tokens
        self.structured_output = structured_output

    def served_model(self, configured: str) -> str:
        if self.model:
            return self.model
        return self.client.model if configured == PLACEHOLDER_MODEL else configured

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str,
        response_format: dict[str, Any] | None,
        sampling: SamplingParams | None,
    ) -> JudgeReply:
        options: dict[str, Any] = {"max_tokens": self.max_tokens}
        if sampling is not None:
            options = {"temperature": sampling.temperature, "top_p": sampling.top_p,
                       "max_tokens": sampling.max_completions_tokens or self.max_tokens,
                       "seed": sampling.seed}
        structured = (ResponseFormat.model_validate(response_format)
                      if response_format and self.structured_output else None)
        try:
            response = await self.client.complete(messages, model=self.served_model(model),
                                                  response_format=structured, **options)
        except LLMRequestError as error:
            if structured is None or "response_format" not in error.body:
                raise
            self.structured_output = False
            response = await self.client.complete(messages, model=self.served_model(model),
                                                  **options)
        if not response.choices:
            raise ValueError("the judge answered no choice")
        message = response.choices[0].message
        refusal = getattr(message, "refusal", None)
        usage = response.usage
        return JudgeReply(
            text=message.content or "",
            refusal=refusal if isinstance(refusal, str) and refusal else None,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
        )
