"""The runtime's OpenAI-compatible client as a topic labeler (and second-opinion judge)."""

from __future__ import annotations

from rft_runtime.llm import LLMClient

LABEL_MAX_TOKENS = 120


class LLMTopicLabeler:
    """``complete(messages) -> text``: what :class:`TopicLabeler` and ``TopicJudge`` ask for.

    Low temperature: a label is a naming task, and the same cluster should get the same name
    when discovery runs again.
    """

    def __init__(self, client: LLMClient, max_tokens: int = LABEL_MAX_TOKENS) -> None:
        self._client = client
        self._max_tokens = max_tokens

    async def complete(self, messages: list[dict[str, str]]) -> str:
        response = await self._client.complete(
            messages, temperature=0.0, max_tokens=self._max_tokens
        )
        if not response.choices:
            return ""
        return response.choices[0].message.content or ""
