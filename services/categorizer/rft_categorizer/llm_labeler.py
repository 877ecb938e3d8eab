"""The runtime's OpenAI-compatible client as a topic labeler (and second-opinion judge)."""

from __future__ import annotations

from rft_runtime.llm import LLMClient

LABEL_MAX_TOKENS = 64
"""A name and a one-sentence description fit in about 40 tokens; small local models tend to
run on past the sentence, and every token costs time on a CPU."""


class LLMTopicLabeler:
    """``complete(messages) -> text``: what :class:`TopicLabeler` and ``TopicJudge`` ask for.

    Low temperature: a label is a naming task, and the same cluster should get the same name
    when discovery runs again.
    """

    def __init__(self, client: LLMClient, max_tokens: int = LABEL_MAX_TOKENS) -> None:
        self._client = client
        self._max_tokens = max_tokens

    async def complete(self, messages: list[dict[str, str]]) -> str:
        # Stop at the object's closing brace: the answer is one flat JSON object.
        response = await self._client.complete(
            messages, temperature=0.0, max_tokens=self._max_tokens, stop=["}"]
        )
        if not response.choices:
            return ""
        choice = response.choices[0]
        return close_json_object(choice.message.content or "", cut=choice.finish_reason == "length")


def close_json_object(text: str, cut: bool) -> str:
    """Give back the brace the stop sequence took; an answer cut at the token limit in the
    middle of its description (SmolLM2 rambles) is closed after its last whole word, so the
    name it did give is not lost."""
    text = text.rstrip()
    if "{" not in text or text.endswith("}"):
        return text
    if cut and text.count('"') % 2 == 1:
        text = text.rsplit(" ", 1)[0].rstrip('\\"') + '"'
    return text + "}"
