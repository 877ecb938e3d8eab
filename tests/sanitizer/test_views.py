"""The seed's screen from a report, the rejected-records pages, and the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from rft_sanitizer.batch import sanitize_files
from rft_sanitizer.settings import ExtractionPolicy, RedactionMode, SanitizerSettings
from rft_sanitizer.views import UnreadableRejected, list_rejected, render_report_screen
from rft_schemas.traces import SanitizeReport, TokenStats


def test_screen_shows_counts_percentages_and_the_rejected_command():
    report = SanitizeReport(
        dataset="d", input=12453, valid=11892, prompts=11892,
        rejected={"missing_user_message": 234, "invalid_json": 127, "broken_tool_chain": 112,
                  "duplicate": 88},
        redactions={"email": 3},
        tokens=TokenStats(counted=10, estimated=11882, p50=120, max=900),
    )
    screen = render_report_screen(report, "out/run1")
    assert "Input:  12,453 raw traces" in screen
    assert "✓ Valid structure" in screen and "11,892 (95.5%)" in screen
    assert "✗ Missing user msg" in screen and "234 (1.9%)" in screen
    assert "✗ Invalid JSON" in screen and "127 (1.0%)" in screen
    assert "✗ Duplicates" in screen and "88 (0.7%)" in screen
    assert "Output: 11,892 clean prompts" in screen
    assert "rft rejected out/run1 --reason missing_user_message" in screen
    assert "10 counted exactly" in screen and "11,882 within bounds by size" in screen
    lines = screen.splitlines()
    assert len({len(line) for line in lines}) == 1  # a closed box


def _messy_run(tmp_path: Path, counter) -> Path:
    lines = [b"not json"] * 5 + [b'{"messages": []}'] * 3 + [b"{bad"] * 2
    path = tmp_path / "messy.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out"
    sanitize_files([path], out, SanitizerSettings(data_dir=tmp_path / "d"), counter=counter)
    return out


def test_rejected_pages_filter_by_reason_and_follow_the_cursor(tmp_path, counter):
    out = _messy_run(tmp_path, counter)
    first = list_rejected(out, reason="invalid_json", limit=3)
    assert [r.source.line for r in first.items] == [1, 2, 3]
    assert first.next_cursor is not None
    second = list_rejected(out, reason="invalid_json", limit=3, cursor=first.next_cursor)
    assert [r.source.line for r in second.items] == [4, 5, 9]
    rest = list_rejected(out, reason="invalid_json", limit=3, cursor=second.next_cursor)
    assert [r.source.line for r in rest.items] == [10] and rest.next_cursor is None
    missing = list_rejected(out, reason="missing_user_message", limit=10)
    assert [r.source.line for r in missing.items] == [6, 7, 8]
    assert len(list_rejected(out, limit=100).items) == 10


@pytest.mark.parametrize(
    ("cursor", "says"),
    [
        ("abc", "is not one a page of"),
        ("-1", "is not one a page of"),
        ("²", "is not one a page of"),
        ("9223372036854775808", "is not one a page of"),
        ("7", "is not the start of a line"),
    ],
)
def test_a_cursor_no_page_printed_is_refused_naming_the_file(tmp_path, counter, cursor, says):
    out = _messy_run(tmp_path, counter)
    with pytest.raises(UnreadableRejected, match=says) as refused:
        list_rejected(out, cursor=cursor)
    assert str(out / "rejected.jsonl") in str(refused.value)


def test_a_cursor_past_the_end_is_refused(tmp_path, counter):
    out = _messy_run(tmp_path, counter)
    size = (out / "rejected.jsonl").stat().st_size
    assert list_rejected(out, cursor=str(size)).items == []
    with pytest.raises(UnreadableRejected, match="past the end"):
        list_rejected(out, cursor=str(size + 1))


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (b'{"reason": "invalid_json", "det', "Invalid JSON"),
        (b"\xff\xfe not utf-8", "Invalid JSON"),
        (b'{"id": "x"}', "Field required"),
    ],
)
def test_a_corrupt_line_is_named_by_its_byte_offset(tmp_path, counter, line, says):
    out = _messy_run(tmp_path, counter)
    rejected = out / "rejected.jsonl"
    start = rejected.stat().st_size
    with rejected.open("ab") as stream:
        stream.write(line + b"\n")
    with pytest.raises(UnreadableRejected, match=says) as refused:
        list_rejected(out, limit=100)
    assert f"is corrupt: the line at byte {start} is not a rejection" in str(refused.value)
    # the pages before the damage are still read
    assert len(list_rejected(out, limit=10).items) == 10


def test_settings_read_the_rft_sanitizer_environment(monkeypatch):
    monkeypatch.setenv("RFT_SANITIZER_POLICY", "per_user_turn")
    monkeypatch.setenv("RFT_SANITIZER_REDACTION", "reject")
    monkeypatch.setenv("RFT_SANITIZER_MAX_TOKENS", "4096")
    monkeypatch.setenv("RFT_SANITIZER_DATA_DIR", "/tmp/rft-x")
    settings = SanitizerSettings()
    assert settings.policy is ExtractionPolicy.PER_USER_TURN
    assert settings.redaction is RedactionMode.REJECT
    assert settings.max_tokens == 4096
    assert settings.resolved_dedup_store() == Path("/tmp/rft-x/sanitizer/dedup.sqlite")
