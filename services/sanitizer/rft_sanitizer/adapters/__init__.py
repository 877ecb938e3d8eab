"""One adapter per trace format, each turning a parsed record into the conversation model.

:func:`detect_format` names a record's format from its shape; :func:`adapt` runs that format's
adapter. A shape no adapter knows is ``not_a_conversation``.
"""

from __future__ import annotations

from typing import Any

from rft_sanitizer.adapters import (
    bfcl,
    mini_swe_agent,
    openai_chat,
    otel_genai,
    sharegpt,
    swe_agent,
    tau2,
)
from rft_sanitizer.adapters.base import Adapted, AdaptError
from rft_schemas.traces import RejectionReason, TraceFormat

__all__ = ["AdaptError", "Adapted", "adapt", "detect_format"]


def detect_format(record: Any) -> TraceFormat:
    if not isinstance(record, dict):
        return TraceFormat.UNKNOWN
    if sharegpt.turns_key(record) is not None:
        return TraceFormat.SHAREGPT
    messages = record.get("messages")
    if isinstance(messages, list):
        if mini_swe_agent.looks_like(record):
            return TraceFormat.MINI_SWE_AGENT
        return TraceFormat.TAU2 if tau2.looks_like(record, messages) else TraceFormat.OPENAI_CHAT
    if "messages" in record:  # the right key with the wrong type: the adapter names the problem
        return TraceFormat.OPENAI_CHAT
    if swe_agent.looks_like(record):
        return TraceFormat.SWE_AGENT
    if bfcl.looks_like(record):
        return TraceFormat.BFCL
    if otel_genai.looks_like(record):
        return TraceFormat.OTEL_GENAI
    return TraceFormat.UNKNOWN


_ADAPTERS = {
    TraceFormat.OPENAI_CHAT: openai_chat.adapt,
    TraceFormat.SHAREGPT: sharegpt.adapt,
    TraceFormat.TAU2: tau2.adapt,
    TraceFormat.BFCL: bfcl.adapt,
    TraceFormat.OTEL_GENAI: otel_genai.adapt,
    TraceFormat.MINI_SWE_AGENT: mini_swe_agent.adapt,
    TraceFormat.SWE_AGENT: swe_agent.adapt,
}


def adapt(record: Any) -> Adapted:
    """The record in the conversation model; raises :class:`AdaptError` for what it cannot read."""
    fmt = detect_format(record)
    if fmt is TraceFormat.UNKNOWN:
        if isinstance(record, dict):
            keys = ", ".join(sorted(str(k) for k in record)[:8])
            detail = f"no known trace format has these top-level keys: {keys or '(none)'}"
        else:
            detail = f"a record must be a JSON object, not {type(record).__name__}"
        raise AdaptError(RejectionReason.NOT_A_CONVERSATION, detail)
    return _ADAPTERS[fmt](record)
