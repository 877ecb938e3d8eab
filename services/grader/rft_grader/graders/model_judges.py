"""``score_model`` and ``label_model``: an LLM judge reads rendered messages and must answer a
JSON object (``{"result": <number>}`` or ``{"result": "<label>"}``). A judge that is down,
slow or answers something else is retried; after the last try the sample is a grader error
with reward 0, never a guess."""

from __future__ import annotations

import asyncio
import json
import math
import re
from typing import Any

from rft_grader.graders.base import BaseGrader, Graded, Item, Outcome
from rft_grader.judging import JudgeClient, JudgeReply
from rft_grader.sample import Sample
from rft_schemas.grader import JudgeMessage, LabelModelGrader, ScoreModelGrader

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class JudgeAnswerError(ValueError):
    """The judge answered, but not the structured result asked for."""


def _content_text(message: JudgeMessage) -> list[tuple[str, str]]:
    """(part type, text) of each text part; images and audio have no template to render."""
    content = message.content
    if isinstance(content, str):
        return [("text", content)]
    parts = content if isinstance(content, list) else [content]
    return [(p.type, p.text) for p in parts if p.text is not None]


def render_messages(messages: list[JudgeMessage], out: Outcome, sample: Sample,
                    item: Item) -> list[dict[str, Any]]:
    rendered = []
    for message in messages:
        text = "\n".join(out.render(t, sample, item) for _, t in _content_text(message))
        rendered.append({"role": message.role, "content": text})
    return rendered


def parse_json_object(text: str) -> dict[str, Any]:
    # Small local judges wrap JSON in a markdown fence even when told not to; that much is
    # unwrapped, anything else that is not one JSON object is a parse error.
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text.strip()
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise JudgeAnswerError(f"judge answer is not JSON: {text[:200]!r}") from exc
    if not isinstance(value, dict):
        raise JudgeAnswerError(f"judge answer is not a JSON object: {text[:200]!r}")
    return value


def parse_score(text: str, low: float, high: float) -> float:
    value = parse_json_object(text)
    score = value.get("result", value.get("score"))
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise JudgeAnswerError(f"judge answer has no numeric result: {text[:200]!r}")
    if not low <= score <= high:
        raise JudgeAnswerError(f"judge score {score} is outside the range [{low}, {high}]")
    return float(score)


def parse_label(text: str, labels: list[str]) -> str:
    value = parse_json_object(text)
    label = value.get("result", value.get("label"))
    if not isinstance(label, str) or label not in labels:
        raise JudgeAnswerError(f"judge label {label!r} is not one of {labels}")
    return label


class _JudgeGrader(BaseGrader):
    def __init__(self, name: str, model: str, messages: list[JudgeMessage], judge: JudgeClient,
                 *, attempts: int, timeout_s: float) -> None:
        super().__init__(name)
        self.model = model
        self.messages = messages
        self.judge = judge
        self.attempts = attempts
        self.timeout_s = timeout_s

    def instruction(self) -> str:
        raise NotImplementedError

    def response_format(self) -> dict[str, Any]:
        raise NotImplementedError

    async def ask(self, out: Outcome, sample: Sample, item: Item, parse: Any, sampling: Any) -> Any:
        """Ask the judge until it gives a parsable answer; None (with a flag) if it never does."""
        messages = render_messages(self.messages, out, sample, item)
        if out.errors.any():
            return None
        messages.append({"role": "system", "content": self.instruction()})
        last_error = ""
        parse_failed = refused = False
        for _ in range(self.attempts):
            try:
                reply: JudgeReply = await asyncio.wait_for(
                    self.judge.complete(messages, model=self.model,
                                        response_format=self.response_format(),
                                        sampling=sampling),
                    timeout=self.timeout_s,
                )
            except TimeoutError:
                last_error = f"judge did not answer within {self.timeout_s:g} s"
                continue
            except Exception as exc:  # the judge's transport failing is retried, then counted
                last_error = f"judge call failed: {type(exc).__name__}: {exc}"
                continue
            out.add_usage(reply.prompt_tokens, reply.completion_tokens)
            if reply.refusal:
                refused, last_error = True, f"judge refused: {reply.refusal[:200]}"
                continue
            try:
                return parse(reply.text)
            except JudgeAnswerError as exc:
                parse_failed, last_error = True, str(exc)
        if refused:
            out.flag("model_grader_refusal_error", last_error)
        elif parse_failed:
            out.flag("model_grader_parse_error", last_error)
        else:
            out.flag("model_grader_server_error", last_error)
            out.errors.model_grader_server_error_details = last_error
        return None


class ScoreModel(_JudgeGrader):
    type = "score_model"

    def __init__(self, config: ScoreModelGrader, judge: JudgeClient, *, attempts: int = 3,
                 timeout_s: float = 60.0) -> None:
        super().__init__(config.name, config.model, config.input, judge, attempts=attempts,
                         timeout_s=timeout_s)
        self.config = config
        self.low, self.high = config.range

    def instruction(self) -> str:
        return (f'Answer only with a JSON object {{"result": <number from {self.low:g} to '
                f'{self.high:g}>}}.')

    def response_format(self) -> dict[str, Any]:
        return {"type": "json_schema", "json_schema": {"name": "score", "strict": True, "schema": {
            "type": "object", "additionalProperties": False, "required": ["result"],
            "properties": {"result": {"type": "number", "minimum": self.low,
                                      "maximum": self.high}}}}}

    async def _grade(self, out: Outcome, sample: Sample, item: Item) -> Graded:
        score = await self.ask(out, sample, item,
                               lambda text: parse_score(text, self.low, self.high),
                               self.config.sampling_params)
        return (0.0 if score is None else score), {}


class LabelModel(_JudgeGrader):
    type = "label_model"

    def __init__(self, config: LabelModelGrader, judge: JudgeClient, *, attempts: int = 3,
                 timeout_s: float = 60.0) -> None:
        super().__init__(config.name, config.model, config.input, judge, attempts=attempts,
                         timeout_s=timeout_s)
        self.config = config

    def instruction(self) -> str:
        labels = ", ".join(json.dumps(label) for label in self.config.labels)
        return f'Answer only with a JSON object {{"result": <one of {labels}>}}.'

    def response_format(self) -> dict[str, Any]:
        return {"type": "json_schema", "json_schema": {"name": "label", "strict": True, "schema": {
            "type": "object", "additionalProperties": False, "required": ["result"],
            "properties": {"result": {"type": "string", "enum": list(self.config.labels)}}}}}

    async def _grade(self, out: Outcome, sample: Sample, item: Item) -> Graded:
        label = await self.ask(out, sample, item,
                               lambda text: parse_label(text, self.config.labels),
                               self.config.sampling_params)
        return (1.0 if label in self.config.passing_labels else 0.0), {}
