"""Property: whatever comes in, the core returns prompts that end on a user turn, or exactly
one rejection with a reason; it never raises, and never falls back to processing_error."""

from __future__ import annotations

import base64
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rft_sanitizer.core import Accepted, sanitize
from rft_schemas.traces import RawTrace, Rejection, SourceLocation

ROLES = st.sampled_from(["system", "user", "assistant", "tool", "function", "developer",
                         "robot", "", None, 3])
TEXT = st.one_of(st.none(), st.text(max_size=40), st.integers(), st.lists(st.text(max_size=5)))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20,
)
CALL = st.fixed_dictionaries(
    {"id": st.one_of(st.none(), st.sampled_from(["a", "b", "call_id"])),
     "type": st.just("function"),
     "function": st.fixed_dictionaries({
         "name": st.sampled_from(["lookup", "book", "", "missing"]),
         "arguments": st.sampled_from(['{"x": 1}', "{}", "[1]", "not json", '"s"'])})}
)
MESSAGE = st.fixed_dictionaries(
    {"role": ROLES, "content": TEXT},
    optional={"tool_calls": st.lists(CALL, max_size=3),
              "tool_call_id": st.sampled_from(["a", "b", "call_id"]),
              "function_call": st.fixed_dictionaries({"name": st.text(max_size=5),
                                                      "arguments": st.text(max_size=8)})},
)
TOOLS = st.one_of(st.none(), st.just([
    {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "book"}}]))
OPENAI = st.fixed_dictionaries({"messages": st.lists(MESSAGE, max_size=8)},
                               optional={"tools": TOOLS, "reward": JSON})
SHAREGPT = st.fixed_dictionaries({"conversations": st.lists(st.fixed_dictionaries({
    "from": st.sampled_from(["human", "gpt", "function_call", "observation", "system", "x"]),
    "value": st.one_of(st.text(max_size=30), st.sampled_from(
        ['{"name": "f", "arguments": {}}', '[{"name": "f", "arguments": {}}]', "[]", "[1,2]"]))}),
    max_size=8)}, optional={"tools": st.sampled_from(["[]", "not json", "[{}]"]),
                            "system": TEXT})
BFCL = st.fixed_dictionaries({"question": st.lists(st.lists(MESSAGE, max_size=3), max_size=3)},
                             optional={"function": st.one_of(JSON, st.lists(JSON, max_size=2))})
RECORD = st.one_of(OPENAI, SHAREGPT, BFCL, JSON)
PAYLOAD = st.one_of(
    RECORD.map(json.dumps),
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("utf-8", errors="surrogateescape")),
)


def _trace(payload: str) -> RawTrace:
    try:
        payload.encode("utf-8")
    except UnicodeEncodeError:
        # bytes that are not UTF-8 travel base64-encoded, as the reader sends them


        raw = payload.encode("utf-8", errors="surrogateescape")
        return RawTrace(id="t", dataset="d", source=SourceLocation(uri="p", line=1),
                        payload=base64.b64encode(raw).decode(), payload_encoding="base64")
    return RawTrace(id="t", dataset="d", source=SourceLocation(uri="p", line=1), payload=payload)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PAYLOAD)
def test_every_input_ends_as_prompts_or_exactly_one_rejection(policy, payload):
    result = sanitize(_trace(payload), policy)
    if isinstance(result, Rejection):
        assert result.reason != "processing_error", result.detail
        assert result.detail
        return
    assert isinstance(result, Accepted) and result.prompts
    for prompt in result.prompts:
        assert prompt.messages[-1].role == "user"
        assert prompt.lineage.trace_id == "t"
