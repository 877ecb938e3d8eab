"""The text that names a prompt's task (what gets embedded, and so what topics are built from),
and the settings every reader of prompt vectors shares with the embedder."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from rft_runtime.settings import RuntimeSettings
from rft_schemas import SanitizedPrompt

__all__ = ["PromptEmbeddingSettings", "TaskTextSource", "task_text"]


class TaskTextSource(StrEnum):
    """Which part of a prompt names its task, and so is embedded."""

    LAST_USER_TURN = "last_user_turn"
    ALL_USER_TURNS = "all_user_turns"
    SYSTEM_AND_TOOLS = "system_and_tools"


class PromptEmbeddingSettings(RuntimeSettings):
    """The embedder's settings that decide which vector a prompt has and where it is stored
    (``RFT_EMBEDDER_*``): a service that writes or looks up prompt vectors without running the
    model (the generator) reads the same ones, so its keys and collections match the
    embedder's. ``rft_embedder.EmbedderSettings`` extends them with the model's."""

    service_env_prefix: ClassVar[str] = "RFT_EMBEDDER_"

    task_text: TaskTextSource = TaskTextSource.LAST_USER_TURN
    max_text_chars: int = Field(
        default=4000, ge=1, description="cut longer task texts (the model reads 256 tokens)"
    )
    collection_prefix: str = Field(default="prompts", description="collection = prefix__dataset")


def task_text(prompt: SanitizedPrompt, source: TaskTextSource, max_chars: int = 4000) -> str:
    """The prompt's task text by ``source``, cut to ``max_chars``.

    Falls back to the last user turn when the chosen part is empty (a prompt without a system
    message or tools), so every prompt has something to embed.
    """
    user_turns = [m.text().strip() for m in prompt.messages if m.role == "user"]
    user_turns = [turn for turn in user_turns if turn]
    last_user = user_turns[-1] if user_turns else ""
    if source is TaskTextSource.ALL_USER_TURNS:
        text = "\n".join(user_turns)
    elif source is TaskTextSource.SYSTEM_AND_TOOLS:
        system = "\n".join(
            m.text().strip() for m in prompt.messages if m.role in ("system", "developer")
        ).strip()
        tools = ", ".join(tool.function.name for tool in prompt.tools or [])
        text = "\n".join(part for part in (system, f"tools: {tools}" if tools else "") if part)
        text = text or last_user
    else:
        text = last_user
    return text[:max_chars]
