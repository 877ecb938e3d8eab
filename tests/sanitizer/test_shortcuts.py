"""The sanitizer's shortcuts give what the long way gives: the ten-digit gate before the card
and phone patterns, whitespace normalization of text that is single-spaced already (or was
seen before), the tool renderings reused across records, the bounded memo behind those two,
and the garbage collector left as the run found it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rft_sanitizer import core, redaction
from rft_sanitizer.core import Accepted, Policy, sanitize
from rft_sanitizer.memo import BoundedMemo
from rft_sanitizer.normalize import _single_spaced
from rft_sanitizer.redaction import Redactor
from rft_sanitizer.tokens import TokenCounter
from tests.sanitizer.conftest import DATA, TraceFactory

NUMBERISH = st.lists(
    st.sampled_from([
        "0", "1", "4", "7", "00", "415", "555", "2671", "4111", "1111", " ", "  ", "-", ".", "(",
        ")", "+", "+1 ", "+44 ", "(0)", ",", "x", "\n", "\u0663", "\uff11", "phone ", "tel: ",
        "my number is ", "card ", "4111 1111 1111 1111", "+1 (415) 555-2671", "020 7946 0958",
        "01 42 68 53 00", "07700 900123", "1-415-555-2671", "5555555555", "12345678901",
    ]),
    max_size=24,
).map("".join)


KEYS = st.lists(
    st.sampled_from([
        "api", "Key", "key", "_", "-", "access", "Token", "auth", "secret", "pass", "word",
        "Passwd", "bearer", "session", "cookie", "client", "phone", "Number", "mobile", "cell",
        "tel", "ephone", "whats", "app", "my", "id", "name", "x", "DB", "2",
    ]),
    min_size=1, max_size=5,
).map("".join)
VALUES = st.sampled_from([
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "hunter2hunter2hunter2", "4155552671", "+1 415 555 2671",
    "02079460958", "abc", "12345678", "Paris", "a1b2c3d4e5f6g7h8",
])


@settings(max_examples=2000, deadline=None)
@given(KEYS, VALUES)
def test_the_key_hint_gate_hides_no_named_secret_or_phone(key: str, value: str) -> None:
    gated, long_way = Redactor(), Redactor()
    assert gated._named_by_key(key, value) == long_way._named_by_any_key(key, value)
    assert gated.counts == long_way.counts


@settings(max_examples=3000, deadline=None)
@given(NUMBERISH)
def test_the_ten_digit_gate_hides_no_card_or_phone(text: str) -> None:
    gated = Redactor()
    gated_text = gated.text(text)
    redaction._CLEAN_TEXTS.clear()
    ungated = Redactor()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redaction, "_TEN_DIGITS", re.compile(""))  # every text passes
        ungated_text = ungated.text(text)
    redaction._CLEAN_TEXTS.clear()
    assert (gated_text, gated.counts) == (ungated_text, ungated.counts)


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(
    ["a", "b", " ", "\t", "\n", "\x1c", "\x85", "\xa0", "\u2028", "\u3000", "\u200b", "\x16",
     "\u00e9"]), max_size=16) | st.text(max_size=16))
def test_single_spacing_is_split_and_join(text: str) -> None:
    assert _single_spaced(text) == " ".join(text.split())


def _tools(value: object) -> list[dict[str, object]]:
    return [{"type": "function", "function": {"name": "lookup", "description": None,
                                              "parameters": {"type": "object", "x": value}}}]


def _prompt_id(trace: TraceFactory, policy: Policy, tools: object, line: int) -> str:
    record = {"messages": [{"role": "user", "content": "Look up booking ABC123, please."}],
              "tools": tools}
    result = sanitize(trace(record, line=line), policy)
    assert isinstance(result, Accepted)
    return result.prompts[0].id


def test_tool_renderings_are_reused_only_for_equal_tools(
    trace: TraceFactory, policy: Policy
) -> None:
    values: list[object] = [1, 1.0, True, None, "1", [1], {"a": None}, {}]
    cold = []
    for line, value in enumerate(values):
        core._TOOL_RENDERINGS.clear()
        cold.append(_prompt_id(trace, policy, _tools(value), line))
    assert len(set(cold)) == len(values)  # each tool list is a prompt of its own
    for _ in range(2):  # warm: every rendering found again is the one made cold
        warm = [_prompt_id(trace, policy, _tools(v), n) for n, v in enumerate(values)]
        assert warm == cold


# Run in a fresh interpreter: the collector's frozen set is process-wide, and only a process
# that froze nothing before can show that the run leaves an unfrozen collector unfrozen.
_COLLECTOR_RUN = """
import gc, sys
from pathlib import Path
from rft_sanitizer.batch import sanitize_files
from rft_sanitizer.settings import SanitizerSettings
from rft_sanitizer.tokens import SMOLLM2, load_token_counter

trace, out, cache = (Path(a) for a in sys.argv[1:4])
caller_froze = sys.argv[4]
counter = load_token_counter(SMOLLM2, cache)
if caller_froze == "yes":
    gc.freeze()
before = gc.get_freeze_count()
report = sanitize_files([trace], out, SanitizerSettings(data_dir=out / "data"), counter=counter)
print(report.valid, before, gc.get_freeze_count())
"""


@pytest.mark.parametrize("caller_froze", [False, True])
def test_the_run_leaves_the_collector_as_it_found_it(
    tmp_path: Path, counter: TokenCounter, tokenizer_cache: Path, caller_froze: bool
) -> None:
    # ``counter`` builds the tokenizer into the cache first, so the child only loads it.
    done = subprocess.run(
        [sys.executable, "-c", _COLLECTOR_RUN, str(DATA / "toy_chat_fine_tuning.jsonl"),
         str(tmp_path / "out"), str(tokenizer_cache), "yes" if caller_froze else "no"],
        capture_output=True, text=True, check=True, timeout=300,
    )
    valid, before, after = (int(n) for n in done.stdout.split())
    assert valid > 0
    assert (before > 0) == caller_froze
    # Unfrozen stays unfrozen; the caller's frozen objects stay frozen (gc.unfreeze would
    # release them all). The count itself may drop: frozen objects can still be freed.
    assert (after > 0) == caller_froze


def test_a_bounded_memo_drops_the_least_recently_used_first() -> None:
    memo: BoundedMemo[str, int] = BoundedMemo(max_size=100)
    for n in range(5):
        memo.put(f"k{n}", n, size=40)  # two fit
    assert [memo.get(f"k{n}") for n in range(5)] == [None, None, None, 3, 4]
    memo.get("k3")  # now the most recently used
    memo.put("k5", 5, size=40)
    assert (memo.get("k3"), memo.get("k4"), memo.get("k5")) == (3, None, 5)
    memo.put("big", 6, size=101)  # over the whole memo: not kept, nothing dropped
    assert (memo.get("big"), memo.get("k3"), memo.get("k5")) == (None, 3, 5)
    memo.put("k3", 7, size=61)  # a new value for a key replaces it, and its size
    assert (memo.get("k3"), memo.get("k5")) == (7, None)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", " ", "\n", "\u3000"]), max_size=40))
def test_long_texts_are_single_spaced_the_same_from_the_memo(tail: str) -> None:
    text = "policy,\n  rule " * 70 + tail  # over 1,024 characters: memoized
    assert _single_spaced(text) == _single_spaced(text) == " ".join(text.split())
