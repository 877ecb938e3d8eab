"""The text that names a prompt's task: what gets embedded, and so what topics are built from."""

from __future__ import annotations

from rft_embedder.settings import TaskTextSource
from rft_schemas import SanitizedPrompt


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
