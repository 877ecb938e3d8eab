"""Step A's pure core: one raw trace in, its prompts or exactly one rejection out.

    sanitize(record, policy) -> Accepted | Rejection

``Accepted.prompts`` holds one prompt for the default and ``strict`` policies, and one per
meaningful user turn for ``per_user_turn`` (prompts dropped there for their length are counted
in ``Accepted.dropped``; when every prompt of a record is dropped, the record is a Rejection).
Duplicates are not decided here: that needs the durable store, see :mod:`rft_sanitizer.pipeline`.

No I/O, and no exception escapes: a bad record is a value.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from functools import partial

import orjson
from pydantic import TypeAdapter

from rft_sanitizer.adapters import Adapted, AdaptError, adapt
from rft_sanitizer.checks import Problem, check_content, check_has_user, check_tool_chain
from rft_sanitizer.closing import (
    PHRASES,
    ClosingTest,
    count_markers,
    has_marker,
    without_markers,
)
from rft_sanitizer.extraction import Cut, CutPoints, extract_prompts
from rft_sanitizer.memo import BoundedMemo
from rft_sanitizer.normalize import canonical_tools, prompt_id, tool_dicts
from rft_sanitizer.redaction import Redactor
from rft_sanitizer.settings import ExtractionPolicy, RedactionMode, SanitizerSettings
from rft_sanitizer.tokens import TokenCounter, render_segments, tools_segment
from rft_sanitizer.trusted import trusted
from rft_schemas.conversation import Conversation, Message, ToolSpec
from rft_schemas.traces import (
    Lineage,
    RawTrace,
    Rejection,
    RejectionReason,
    SanitizedPrompt,
    TokenBound,
)


@dataclass(frozen=True)
class Policy:
    """Everything the core decides by, the tokenizer included."""

    counter: TokenCounter
    extraction: ExtractionPolicy = ExtractionPolicy.LAST_MEANINGFUL_USER
    min_tokens: int = 8
    max_tokens: int = 8192
    count_all_tokens: bool = False
    redaction: RedactionMode = RedactionMode.REDACT
    excerpt_chars: int = 300
    # Which user turns only close a conversation: the phrase list, or a semantic test.
    closing: ClosingTest = PHRASES
    # Where max_tokens came from, for the report (None: set by hand, as in tests).
    bound: TokenBound | None = None

    @classmethod
    def from_settings(
        cls,
        settings: SanitizerSettings,
        counter: TokenCounter,
        bound: TokenBound | None = None,
        closing: ClosingTest | None = None,
    ) -> Policy:
        """The policy the settings describe. Unless given, the token bound is resolved from the
        trained model's config (:func:`rft_sanitizer.bounds.resolve_token_bound`) and the
        closing test loaded (:func:`rft_sanitizer.closing_semantic.load_closing_test`): both
        read files once, here, so that :func:`sanitize` stays free of I/O."""
        from rft_sanitizer.bounds import resolve_token_bound
        from rft_sanitizer.closing_semantic import load_closing_test

        bound = bound or resolve_token_bound(settings)
        closing = closing or load_closing_test(settings)
        return cls(
            counter=counter,
            extraction=settings.policy,
            min_tokens=settings.min_tokens,
            max_tokens=bound.max_tokens,
            count_all_tokens=settings.count_all_tokens,
            redaction=settings.redaction,
            excerpt_chars=settings.excerpt_chars,
            closing=closing,
            bound=bound,
        )


@dataclass(frozen=True)
class Accepted:
    """A record that yielded prompts. ``token_count`` is None on a prompt whose length bounds
    were settled from its byte length without tokenizing it."""

    prompts: list[SanitizedPrompt]
    dropped: dict[str, int] = field(default_factory=dict)
    redactions: dict[str, int] = field(default_factory=dict)
    # Harness-only roles, fields and control markers left out (SanitizeReport.harness_dropped).
    harness: dict[str, int] = field(default_factory=dict)


class _Refused(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def sanitize(record: RawTrace, policy: Policy) -> Accepted | Rejection:
    try:
        return _sanitize(record, policy)
    except _Refused as refused:
        return rejection(record, refused.problem, policy.excerpt_chars)
    except RecursionError:
        problem = Problem(RejectionReason.TOO_DEEPLY_NESTED, "the record nests too deeply")
        return rejection(record, problem, policy.excerpt_chars)
    except Exception as exc:  # a bug met on one record must not stop the batch: count it
        problem = Problem(RejectionReason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}"[:500])
        return rejection(record, problem, policy.excerpt_chars)


def rejection(record: RawTrace, problem: Problem, excerpt_chars: int = 300) -> Rejection:
    return Rejection(
        id=record.id,
        dataset=record.dataset,
        reason=problem.reason,
        detail=problem.detail,
        source=record.source,
        path=problem.path,
        excerpt=excerpt(record, excerpt_chars),
        trace_id=record.id,
    )


def excerpt(record: RawTrace, chars: int) -> str:
    if record.payload_encoding == "utf-8":
        return str(record.payload[:chars])
    raw = _decode_base64(record.payload[: chars * 2])
    return raw.decode("utf-8", errors="backslashreplace")[:chars]


def _decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return b""


def parse_payload(record: RawTrace) -> object:
    """The record's JSON value; refuses bytes that are not UTF-8 and text that is not JSON."""
    payload: str | bytes = record.payload
    if record.payload_encoding == "base64":
        try:
            payload = base64.b64decode(record.payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            problem = Problem(RejectionReason.INVALID_RECORD, f"bad base64 payload: {exc}")
            raise _Refused(problem) from None
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Refused(
                Problem(
                    RejectionReason.INVALID_UTF8,
                    f"byte {exc.start} ({payload[exc.start:exc.start + 1]!r}) is not UTF-8",
                )
            ) from None
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in exc.msg or "recursion" in exc.msg:
            reason = RejectionReason.TOO_DEEPLY_NESTED
        elif "UTF-8" in exc.msg or "surrogate" in exc.msg:
            reason = RejectionReason.INVALID_UTF8
        else:
            reason = RejectionReason.INVALID_JSON
        raise _Refused(Problem(reason, f"{exc.msg} at char {exc.pos}")) from None


def _sanitize(record: RawTrace, policy: Policy) -> Accepted | Rejection:
    value = parse_payload(record)
    try:
        adapted = adapt(value)
    except AdaptError as exc:
        raise _Refused(Problem(exc.reason, exc.detail, exc.path)) from None
    if not adapted.others and not adapted.failed:
        return _conversation_prompts(record, adapted, policy)
    # Several conversations in one record: each is judged alone; a refused one is counted as
    # dropped, and the record is refused only when none of them gives a prompt.
    prompts: list[SanitizedPrompt] = []
    dropped: dict[str, int] = {}
    redactions: dict[str, int] = {}
    harness: dict[str, int] = {}
    first_problem: Problem | None = None
    for error in adapted.failed:
        dropped[error.reason.value] = dropped.get(error.reason.value, 0) + 1
        first_problem = first_problem or Problem(error.reason, error.detail, error.path)
    for one in (adapted, *adapted.others):
        try:
            accepted = _conversation_prompts(record, one, policy)
        except _Refused as refused:
            reason = refused.problem.reason.value
            dropped[reason] = dropped.get(reason, 0) + 1
            first_problem = first_problem or refused.problem
            continue
        prompts.extend(accepted.prompts)
        for counts, more in (
            (dropped, accepted.dropped),
            (redactions, accepted.redactions),
            (harness, accepted.harness),
        ):
            for key, n in more.items():
                counts[key] = counts.get(key, 0) + n
    if not prompts:
        assert first_problem is not None
        raise _Refused(first_problem)
    return Accepted(prompts=prompts, dropped=dropped, redactions=redactions, harness=harness)


def _conversation_prompts(record: RawTrace, adapted: Adapted, policy: Policy) -> Accepted:
    """The prompts of one conversation; raises _Refused with the reason it gives none."""
    harness = dict(adapted.harness)
    conversation, harness_turns, markers = _without_control_markers(
        adapted.conversation, adapted.harness_turns
    )
    if markers:
        harness["control_marker"] = harness.get("control_marker", 0) + markers
    points = CutPoints(conversation.messages, policy.closing, harness_turns, markers > 0)
    taken_whole = policy.extraction is ExtractionPolicy.STRICT or adapted.whole_prompt
    chain = partial(
        check_tool_chain,
        closing_turns_end_the_trace=not taken_whole,
        only_closing_from=points.only_closing_from,
    )
    for check in (check_has_user, chain, check_content):
        problem = check(conversation)
        if problem:
            raise _Refused(problem)
    cuts = extract_prompts(
        conversation.messages, policy.extraction, adapted.whole_prompt, points
    )
    if isinstance(cuts, Problem):
        raise _Refused(cuts)
    redactor = Redactor()
    if policy.redaction is not RedactionMode.OFF:
        cuts = _redact(cuts, redactor)
        if policy.redaction is RedactionMode.REJECT and redactor.counts:
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(redactor.counts.items()))
            raise _Refused(Problem(RejectionReason.CONTAINS_SECRET, f"found {kinds}"))
    prompts: list[SanitizedPrompt] = []
    dropped: dict[str, int] = {}
    last_problem: Problem | None = None
    rendered_tools = _rendered_tools(conversation.tools)
    for cut in cuts:
        built = _prompt(record, adapted, rendered_tools, cut, policy, dict(redactor.counts))
        if isinstance(built, Problem):
            dropped[built.reason.value] = dropped.get(built.reason.value, 0) + 1
            last_problem = last_problem or built
        else:
            prompts.append(built)
    if not prompts:
        assert last_problem is not None
        raise _Refused(last_problem)
    return Accepted(
        prompts=prompts, dropped=dropped, redactions=dict(redactor.counts), harness=harness
    )


def _without_control_markers(
    conversation: Conversation, harness_turns: frozenset[int]
) -> tuple[Conversation, frozenset[int], int]:
    """The conversation with user simulators' control markers removed (never shown to a
    model, never left in a prompt), turns that held nothing else dropped; harness-turn indices
    follow the messages. Returns (conversation, harness turns, markers removed)."""
    messages = conversation.messages
    if not any(m.content and has_marker(m.text()) for m in messages):
        return conversation, harness_turns, 0
    kept: list[Message] = []
    turns: set[int] = set()
    markers = 0
    for i, message in enumerate(messages):
        text = message.text() if message.content else ""
        if not has_marker(text):
            cleaned: Message | None = message
        else:
            markers += count_markers(text)
            cleaned = without_markers(message)
            if cleaned is None and message.tool_calls:
                cleaned = message.model_copy(update={"content": None})
        if cleaned is None:
            continue
        if i in harness_turns:
            turns.add(len(kept))
        kept.append(cleaned)
    return conversation.model_copy(update={"messages": kept}), frozenset(turns), markers


def _redact(cuts: list[Cut], redactor: Redactor) -> list[Cut]:
    # Cuts share messages (per_user_turn prompts overlap): redact each message once.
    done: dict[int, Message] = {}

    def once(message: Message) -> Message:
        key = id(message)
        if key not in done:
            done[key] = redactor.message(message)
        return done[key]

    return [
        Cut(cut.index, [once(m) for m in cut.prompt], [once(m) for m in cut.reference])
        for cut in cuts
    ]


@dataclass(frozen=True)
class _RenderedTools:
    """A record's tools, serialized once for all its prompts."""

    canonical: list[bytes]
    segment: str | None


_NO_TOOLS = _RenderedTools([], None)
_TOOLS_JSON = TypeAdapter(list[ToolSpec]).serializer.to_json


# Tool renderings by the tools' full JSON. Real traces repeat one tool list across thousands of
# records, and dumping, key-sorting and re-serializing its JSON schemas is among the costliest
# steps of a record. The JSON names the validated tools exactly (every field, nulls and number
# types included), so an equal key is an equal rendering. Sized in bytes.
_TOOL_RENDERINGS: BoundedMemo[bytes, _RenderedTools] = BoundedMemo(max_size=4 << 20)


def _rendered_tools(tools: list[ToolSpec] | None) -> _RenderedTools:
    if not tools:
        return _NO_TOOLS
    key = _TOOLS_JSON(tools)
    rendered = _TOOL_RENDERINGS.get(key)
    if rendered is None:
        specs = tool_dicts(tools)
        rendered = _RenderedTools(canonical_tools(specs), tools_segment(specs))
        size = len(key) + sum(map(len, rendered.canonical)) + len(rendered.segment or "")
        _TOOL_RENDERINGS.put(key, rendered, size)
    return rendered


def _prompt(
    record: RawTrace,
    adapted: Adapted,
    tools: _RenderedTools,
    cut: Cut,
    policy: Policy,
    redactions: dict[str, int],
) -> SanitizedPrompt | Problem:
    segments = render_segments(cut.prompt, tools.segment)
    # Counted exactly only where the count decides (TokenCounter.settle).
    if policy.count_all_tokens:
        lower = upper = policy.counter.count_segments(segments)
    else:
        lower, upper = policy.counter.settle(segments, policy.min_tokens, policy.max_tokens)
    token_count = lower if lower == upper else None
    if upper < policy.min_tokens:
        count = f"{upper} tokens" if token_count is not None else f"at most {upper} tokens"
        return Problem(
            RejectionReason.TOO_SHORT,
            f"{count}, fewer than min_tokens={policy.min_tokens} ({policy.counter.name})",
            f"messages[{cut.index}]",
        )
    if lower > policy.max_tokens:
        count = f"{lower} tokens" if token_count is not None else f"at least {lower} tokens"
        return Problem(
            RejectionReason.TOO_LONG,
            f"{count}, more than max_tokens={policy.max_tokens} ({policy.counter.name})",
            f"messages[{cut.index}]",
        )
    # Every part was validated on the way in (the conversation model, the record): build the
    # output without validating it a second time.
    return trusted(
        SanitizedPrompt,
        id=prompt_id(cut.prompt, tools.canonical),
        dataset=record.dataset,
        messages=cut.prompt,
        tools=adapted.conversation.tools,
        reference=cut.reference,
        item_fields=adapted.item_fields,
        token_count=token_count,
        redactions=redactions,
        lineage=trusted(
            Lineage,
            dataset=record.dataset,
            trace_id=record.id,
            source=record.source,
            format=adapted.format,
            cut_at_message=cut.index,
            policy=policy.extraction.value,
        ),
    )
