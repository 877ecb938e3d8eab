"""Where the sanitizer service keeps HTTP uploads, and for how long.

An upload is saved before it is read (the reader reads files, so a body is read as the same
bytes in a file would be), one directory per dataset under ``uploads/``. They were kept forever;
now each write prunes what the retention settings no longer keep: files older than
``upload_max_age_s`` and, per dataset, all but the newest ``upload_max_per_dataset``. An upload
still being read is never pruned.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rft_schemas.names import dataset_dir

log = logging.getLogger(__name__)

UPLOAD_GLOB = "upload-*"


def save_upload(directory: Path, body: bytes) -> Path:
    """Keep the upload under its content hash: the same body again yields the same trace ids,
    so a retried upload replaces its own outcomes instead of being counted twice."""
    directory.mkdir(parents=True, exist_ok=True)
    # A JSON document (an array, or an object that may hold records) is read by its content,
    # as a file would be; anything else line by line. The reader skips a byte-order mark.
    start = body.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    suffix = ".json" if start in (b"[", b"{") else ".jsonl"
    path = directory / f"upload-{hashlib.sha256(body).hexdigest()[:24]}{suffix}"
    if path.exists():
        path.touch()  # its age counts from its latest upload
    else:
        tmp = path.with_suffix(".partial")
        tmp.write_bytes(body)
        tmp.replace(path)
    return path


def expired_uploads(
    root: Path, max_age_s: float, max_per_dataset: int, now: float, keep: frozenset[Path]
) -> list[Path]:
    """The uploads under ``root`` that retention no longer keeps (0 = no such limit)."""
    expired: list[Path] = []
    for directory in (d for d in root.iterdir() if d.is_dir()) if root.is_dir() else ():
        aged = []
        for path in directory.glob(UPLOAD_GLOB):
            try:
                aged.append((path.stat().st_mtime, path))
            except FileNotFoundError:  # pruned by another replica meanwhile
                continue
        aged.sort(reverse=True)
        for rank, (mtime, path) in enumerate(aged):
            too_old = max_age_s > 0 and now - mtime > max_age_s
            too_many = max_per_dataset > 0 and rank >= max_per_dataset
            if (too_old or too_many) and path not in keep:
                expired.append(path)
    return expired


class Uploads:
    """The uploads directory of one service: save, track what is being read, prune."""

    def __init__(self, root: Path, max_age_s: float, max_per_dataset: int) -> None:
        self.root = root
        self.max_age_s = max_age_s
        self.max_per_dataset = max_per_dataset
        self._reading: dict[Path, int] = {}

    @contextmanager
    def saved(self, dataset: str, body: bytes) -> Iterator[Path]:
        """Save ``body`` as an upload of ``dataset`` (a name that breaks the dataset-name rule
        raises), prune, and keep it from pruning while the caller reads it."""
        path = save_upload(dataset_dir(self.root, dataset), body)
        self._reading[path] = self._reading.get(path, 0) + 1
        try:
            self.prune()
            yield path
        finally:
            self._reading[path] -= 1
            if not self._reading[path]:
                del self._reading[path]

    def prune(self, now: float | None = None) -> list[Path]:
        expired = expired_uploads(
            self.root, self.max_age_s, self.max_per_dataset,
            time.time() if now is None else now, frozenset(self._reading),
        )
        for path in expired:
            path.unlink(missing_ok=True)
        if expired:
            log.info("uploads pruned", extra={"files": len(expired)})
        return expired
