"""Rows as the base model sees them, and its answers as the grader sees them.

GRPOTrainer renders only trainer-wide tools, never a row's own, and SmolLM2's chat template
ignores ``tools=`` anyway. So each row's messages and tools are rendered here with the same
convention the local LLM server serves with (:func:`rft_runtime.llm.chat_format.render_turns`:
the tools in the system turn, calls as ``<tool_call>`` blocks), through the base model's own chat
template, and an answer is parsed back by the same parser the server uses: the dry run, training
and step J's comparison score the same text the same way.
"""

from __future__ import annotations

from typing import Any, Protocol

from rft_grader.dryrun.prompts import DryRunPrompt
from rft_grader.sample import Sample
from rft_runtime.llm.chat_format import parse_answer, render_turns


class ChatTemplate(Protocol):
    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> Any: ...


def render_prompt(tokenizer: ChatTemplate, prompt: DryRunPrompt) -> str:
    turns = render_turns(prompt.messages, prompt.tools)
    text = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
    if not isinstance(text, str):
        raise TypeError(f"the chat template rendered {type(text).__name__}, not text")
    return text


def sample_of(completion: str, prompt: DryRunPrompt) -> Sample:
    """The completion as the grader's ``sample``: text, and tool calls when tools were offered."""
    answer = parse_answer(completion, prompt.tools)
    return Sample(output_text=answer.content or "", output_tools=list(answer.tool_calls))
