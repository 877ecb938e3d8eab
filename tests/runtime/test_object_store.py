"""The file-backed object store behind the durable local broker: the S3 subset Tansu uses, its
preconditions (Tansu's optimistic concurrency rests on them), listing, and names that would
leave the root."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from rft_runtime.kafka.object_store import ObjectStoreServer
from rft_runtime.processes import free_port


@pytest.fixture
def store(tmp_path: Path) -> Iterator[str]:
    server = ObjectStoreServer(tmp_path / "root", "127.0.0.1", free_port(), fsync=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_create_only_once_then_compare_and_swap_by_etag(store):
    url = f"{store}/tansu/clusters/c/meta.json"
    created = httpx.put(url, content=b"v1", headers={"If-None-Match": "*"})
    assert created.status_code == 200
    assert httpx.put(url, content=b"v1'", headers={"If-None-Match": "*"}).status_code == 412

    first = created.headers["ETag"]
    assert httpx.put(url, content=b"v2", headers={"If-Match": '"stale"'}).status_code == 412
    swapped = httpx.put(url, content=b"v2", headers={"If-Match": first})
    assert swapped.status_code == 200 and swapped.headers["ETag"] != first
    assert httpx.put(url, content=b"v3", headers={"If-Match": first}).status_code == 412
    assert httpx.get(url).content == b"v2"
    missing = httpx.put(f"{store}/tansu/none", content=b"x", headers={"If-Match": first})
    assert missing.status_code == 404


def test_get_answers_not_modified_for_the_current_etag_and_names_its_date(store):
    url = f"{store}/tansu/a/b.json"
    etag = httpx.put(url, content=b"{}").headers["ETag"]
    got = httpx.get(url)
    assert got.content == b"{}" and got.headers["ETag"] == etag
    assert got.headers["Last-Modified"].endswith("GMT")
    assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert httpx.head(url).headers["Content-Length"] == "2"
    assert httpx.get(f"{store}/tansu/a/none.json").status_code == 404
    assert httpx.get(url, headers={"Range": "bytes=1-1"}).content == b"}"


def test_listing_by_prefix_pages_with_a_continuation_token(store):
    for i in range(5):
        httpx.put(f"{store}/tansu/t/p0/records/{i:05d}.batch", content=b"r")
    httpx.put(f"{store}/tansu/t/p1/records/00000.batch", content=b"r")
    keys: list[str] = []
    params = {"list-type": "2", "prefix": "t/p0/records/", "max-keys": "2"}
    while True:
        page = httpx.get(f"{store}/tansu", params=params)
        assert page.status_code == 200
        keys += [part.split("</Key>")[0] for part in page.text.split("<Key>")[1:]]
        if "<IsTruncated>true</IsTruncated>" not in page.text:
            break
        token = page.text.split("<NextContinuationToken>")[1].split("<")[0]
        params = {**params, "continuation-token": token}
    assert keys == [f"t/p0/records/{i:05d}.batch" for i in range(5)]


def test_names_that_would_leave_the_root_are_refused(store, tmp_path):
    # percent-encoded, so the client does not resolve the dots itself
    for key in ("%2e%2e/escape", "a/%2e%2e/%2e%2e/escape", "a//b", "a/.partial-x"):
        assert httpx.put(f"{store}/tansu/{key}", content=b"x").status_code == 400
    assert not (tmp_path / "escape").exists() and not (tmp_path / "root" / "escape").exists()


def test_concurrent_compare_and_swap_loses_no_update(store):
    url = f"{store}/tansu/counter"
    httpx.put(url, content=b"0", headers={"If-None-Match": "*"})

    def increment(_: int) -> int:
        attempts = 0
        with httpx.Client() as client:
            while True:
                attempts += 1
                current = client.get(url)
                value = int(current.content) + 1
                put = client.put(url, content=str(value).encode(),
                                 headers={"If-Match": current.headers["ETag"]})
                if put.status_code == 200:
                    return attempts
                assert put.status_code == 412

    with ThreadPoolExecutor(8) as pool:
        attempts = list(pool.map(increment, range(80)))
    assert httpx.get(url).content == b"80"
    assert sum(attempts) >= 80


def test_objects_outlive_the_server(tmp_path):
    root = tmp_path / "root"
    port = free_port()
    for expected in (None, b"kept"):
        server = ObjectStoreServer(root, "127.0.0.1", port)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{port}/tansu/topic/records/0.batch"
            if expected is None:
                assert httpx.put(url, content=b"kept").status_code == 200
            else:
                assert httpx.get(url).content == expected
        finally:
            server.shutdown()
            server.server_close()
