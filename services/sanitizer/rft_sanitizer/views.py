"""What a user reads: the seed's sanitize screen, and pages of rejected records by reason."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pydantic import ValidationError

from rft_sanitizer.batch import REJECTED_FILE
from rft_schemas.traces import Rejection, RejectionReason, SanitizeReport

LABELS: dict[str, str] = {
    RejectionReason.INVALID_JSON: "Invalid JSON",
    RejectionReason.INVALID_UTF8: "Invalid UTF-8",
    RejectionReason.TOO_LARGE: "Too large",
    RejectionReason.TOO_DEEPLY_NESTED: "Nested too deep",
    RejectionReason.NOT_A_CONVERSATION: "Not a conversation",
    RejectionReason.UNKNOWN_ROLE: "Unknown role",
    RejectionReason.MISSING_USER_MESSAGE: "Missing user msg",
    RejectionReason.NOT_ENDING_ON_USER: "Not ending on user",
    RejectionReason.BROKEN_TOOL_CHAIN: "Broken tool chain",
    RejectionReason.INVALID_TOOL_ARGUMENTS: "Bad tool arguments",
    RejectionReason.UNKNOWN_TOOL: "Unknown tool",
    RejectionReason.EMPTY_CONTENT: "Empty content",
    RejectionReason.DUPLICATE: "Duplicates",
    RejectionReason.NEAR_DUPLICATE: "Near duplicates",
    RejectionReason.TOO_LONG: "Too long",
    RejectionReason.TOO_SHORT: "Too short",
    RejectionReason.CONTAINS_SECRET: "Contains secrets",
    RejectionReason.INVALID_RECORD: "Invalid record",
    RejectionReason.PROCESSING_ERROR: "Processing error",
}


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0.0%"


def render_report_screen(report: SanitizeReport, out_dir: Path | str | None = None) -> str:
    """The seed's 'Data Sanitization' box, as plain text."""
    where = str(out_dir) if out_dir is not None else "DIR"
    rows: list[tuple[str, int]] = [("✓ Valid structure", report.valid)]
    rows += [(f"✗ {LABELS.get(r, r)}", n) for r, n in sorted(report.rejected.items(),
                                                           key=lambda kv: (-kv[1], kv[0]))]
    number_width = max(len(f"{n:,}") for _, n in rows)
    label_width = max(len(label) for label, _ in rows)
    body = [f"Input:  {report.input:,} raw traces", ""]
    body += [
        f"{label:<{label_width}}  {n:>{number_width},} ({_percent(n, report.input)})"
        for label, n in rows
    ]
    body.append("")
    prompts = f"Output: {report.prompts:,} clean prompts"
    if report.prompts != report.valid:
        prompts += f" from {report.valid:,} traces"
    body.append(prompts)
    if report.redactions:
        body.append("Redacted: " + ", ".join(f"{n:,} {k}" for k, n in report.redactions.items()))
    tokens = report.tokens
    if tokens.counted or tokens.estimated:
        line = f"Tokens: {tokens.counted:,} counted exactly"
        if tokens.counted:
            line += f" (p50 {tokens.p50}, max {tokens.max})"
        if tokens.estimated:
            line += f", {tokens.estimated:,} within bounds by size"
        body.append(line)
    if report.rejected:
        top = max(report.rejected.items(), key=lambda kv: kv[1])[0]
        body += ["", "View rejected samples:", f"  rft rejected {where} --reason {top}"]
    width = max(44, *(len(line) + 2 for line in body))
    title = "Data Sanitization"
    lines = ["┌" + "─" * width + "┐", f"│ {title:<{width - 1}}│", "├" + "─" * width + "┤"]
    lines += [f"│ {line:<{width - 1}}│" for line in body]
    lines.append("└" + "─" * width + "┘")
    return "\n".join(lines)


@dataclass(frozen=True)
class RejectedPage:
    items: list[Rejection]
    next_cursor: str | None


class UnreadableRejected(ValueError):
    """``rejected.jsonl`` cannot be paged as asked: a cursor that is not one a page printed,
    or a line that is not a rejection (the file was cut short or edited)."""


def _start_of_page(stream: BinaryIO, cursor: str | None, path: Path) -> int:
    """The byte offset ``cursor`` names, checked to be the start of a line of ``stream``."""
    if not cursor:
        return 0
    size = os.fstat(stream.fileno()).st_size
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > len(str(size)):
        raise UnreadableRejected(
            f"cursor {cursor!r} is not one a page of {path} printed: it is a byte offset, "
            f"0 to {size}"
        )
    offset = int(cursor)
    if offset > size:
        raise UnreadableRejected(f"cursor {offset} is past the end of {path} ({size} bytes)")
    if offset:
        stream.seek(offset - 1)
        if stream.read(1) != b"\n":
            raise UnreadableRejected(f"cursor {offset} is not the start of a line of {path}")
    return offset


def list_rejected(
    out_dir: Path, reason: str | None = None, limit: int = 20, cursor: str | None = None
) -> RejectedPage:
    """Rejected records from ``DIR/rejected.jsonl``, optionally of one reason, a page at a time.

    The cursor is the byte offset to read on from; ``next_cursor`` is None at the end of the file.
    Raises :class:`UnreadableRejected` for a cursor no page printed or a line that is not a
    rejection.
    """
    path = out_dir / REJECTED_FILE
    items: list[Rejection] = []
    needle = f'"reason":"{reason}"'.encode() if reason else None
    with path.open("rb") as stream:
        offset = _start_of_page(stream, cursor, path)
        stream.seek(offset)
        while len(items) < limit:
            line = stream.readline()
            if not line:
                return RejectedPage(items, None)
            start, offset = offset, offset + len(line)
            if needle is not None and needle not in line:
                continue
            try:
                rejection = Rejection.model_validate_json(line)
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(map(str, first["loc"]))
                raise UnreadableRejected(
                    f"{path} is corrupt: the line at byte {start} is not a rejection "
                    f"({where + ': ' if where else ''}{first['msg']})"
                ) from None
            if reason is None or rejection.reason == reason:
                items.append(rejection)
        more = stream.read(1)
    return RejectedPage(items, str(offset) if more else None)
