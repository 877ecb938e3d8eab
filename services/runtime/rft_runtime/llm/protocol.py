"""The OpenAI chat-completions wire protocol, as pydantic models, apart from any serving code.

Messages and tools are the platform's own contracts (:mod:`rft_schemas.conversation`), so a
prompt read from a trace goes to the LLM unchanged. Fields this module does not name are kept
(``extra="allow"``): servers add their own (vLLM's ``prompt_logprobs``, llama.cpp's ``timings``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rft_schemas.conversation import Message, ToolCall, ToolSpec

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class JsonSchemaFormat(_Open):
    name: str
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool | None = None
    description: str | None = None


class ResponseFormat(_Open):
    """``{"type": "json_schema", "json_schema": {...}}`` asks for structured output."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: JsonSchemaFormat | None = None


class ChatCompletionRequest(_Open):
    model: str
    messages: list[Message]
    tools: list[ToolSpec] | None = None
    tool_choice: str | dict[str, Any] | None = None
    n: int = Field(default=1, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    response_format: ResponseFormat | None = None

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class AssistantMessage(_Open):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None


class Choice(_Open):
    index: int
    message: AssistantMessage
    finish_reason: FinishReason | None = None


class Usage(_Open):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletionResponse(_Open):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None


class ModelCard(_Open):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "rft"


class ModelList(_Open):
    object: Literal["list"] = "list"
    data: list[ModelCard]
