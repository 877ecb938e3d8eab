"""Rows as the base model sees them, and its answers as the grader sees them.

GRPOTrainer renders only trainer-wide tools, never a row's own, and SmolLM2's chat template
ignores ``tools=`` anyway. So each row's messages and tools are rendered here with the same
convention the local LLM server serves with (:func:`rft_runtime.llm.chat_format.render_turns`:
the tools in the system turn, calls as ``<tool_call>`` blocks), through the base model's own chat
template, and an answer is parsed back by the same parser the server uses: the dry run, training
and step J's comparison score the same text the same way. ``tool_choice`` prefills the answer as
the server does for the same request, and the prefill is part of what is parsed and scored.
"""

from __future__ import annotations

from typing import Any, Protocol

from rft_grader.dryrun.prompts import DryRunPrompt
from rft_grader.sample import Sample
from rft_runtime.llm.chat_format import answer_prefix, parse_answer, render_turns


class ChatTemplate(Protocol):
    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> Any: ...


def render_prompt(tokenizer: ChatTemplate, prompt: DryRunPrompt, tool_choice: str = "auto") -> str:
    turns = render_turns(prompt.messages, prompt.tools)
    text = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
    if not isinstance(text, str):
        raise TypeError(f"the chat template rendered {type(text).__name__}, not text")
    return text + answer_prefix(prompt.tools, tool_choice)


def answer_text(completion: str, prompt: DryRunPrompt, tool_choice: str = "auto") -> str:
    """The whole answer: the prefill the prompt ended with, then what the model wrote."""
    return answer_prefix(prompt.tools, tool_choice) + completion


def sample_of(completion: str, prompt: DryRunPrompt, tool_choice: str = "auto") -> Sample:
    """The completion as the grader's ``sample``: text, and tool calls when tools were offered."""
    answer = parse_answer(answer_text(completion, prompt, tool_choice), prompt.tools)
    return Sample(output_text=answer.content or "", output_tools=list(answer.tool_calls))
