"""What the console's forms send that the services need typed: optional whole numbers."""

from __future__ import annotations

from rft_console.upstream import UpstreamError


def whole_number(text: str, label: str) -> int | None:
    """A form's optional count: None when empty (the service decides), else a whole number of
    at least 1, or a message naming the field."""
    if not text.strip():
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise UpstreamError("console", f"{label} must be a whole number of at least 1")
    return int(text)
