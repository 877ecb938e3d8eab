"""The sanitizer's HTTP API at its edges: cursors past what SQL stores, dataset names that would
climb out of uploads/, and how long uploads are kept. Real HTTP on loopback, no broker."""

from __future__ import annotations

import os
import time
from pathlib import Path

from rft_sanitizer.service import build_service
from rft_sanitizer.settings import SanitizerSettings
from rft_sanitizer.uploads import Uploads
from tests.categorizer_service.http_server import served

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"


def sanitizer_app(data_dir: Path, **settings: object):  # type: ignore[no-untyped-def]
    app, _, runtime = build_service(SanitizerSettings(
        service_name="sanitizer", data_dir=data_dir, log_json=False, **settings))
    return app, runtime


async def test_a_cursor_past_the_largest_sql_integer_is_a_422_naming_it(tmp_path: Path) -> None:
    app, runtime = sanitizer_app(tmp_path)
    async with served(app, runtime) as http:
        too_big = await http.get("/v1/datasets/d/rejected", params={"cursor": 2**63})
        largest = await http.get("/v1/datasets/d/rejected", params={"cursor": 2**63 - 1})
        negative = await http.get("/v1/datasets/d/rejected", params={"cursor": -1})
    assert too_big.status_code == 422, too_big.text
    assert too_big.json()["detail"][0]["loc"] == ["query", "cursor"]
    assert largest.status_code == 200 and largest.json() == {"items": [], "next_cursor": None}
    assert negative.status_code == 422


async def test_a_dataset_name_that_climbs_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "state"
    app, runtime = sanitizer_app(data_dir)
    body = (DATA / "drone_training.jsonl").read_bytes().splitlines()[0]
    async with served(app, runtime) as http:
        answers = {
            name: await http.post(f"/v1/datasets/{name}/traces", content=body)
            for name in ("%2E%2E", ".", "a%20b", "%2Fetc", "x" * 129)
        }
        reports = [await http.get(f"/v1/datasets/{n}/sanitize-report") for n in ("%2E%2E", "a%20b")]
        good = await http.post("/v1/datasets/drone-1/traces", content=body)
    for name, answer in answers.items():
        # a name the route cannot even match (an encoded slash) is a 404; every other is a 422
        assert answer.status_code in (404, 422), (name, answer.status_code)
    assert answers["%2E%2E"].status_code == 422
    assert "dataset" in answers["%2E%2E"].json()["detail"][0]["loc"]
    assert all(r.status_code == 422 for r in reports)
    assert good.status_code == 200, good.text
    written = sorted(p.relative_to(data_dir) for p in data_dir.rglob("upload-*"))
    assert [p.parts[:3] for p in written] == [("sanitizer", "uploads", "drone-1")]


async def test_uploads_beyond_the_per_dataset_count_are_pruned_on_write(tmp_path: Path) -> None:
    app, runtime = sanitizer_app(tmp_path, upload_max_per_dataset=2)
    lines = (DATA / "drone_training.jsonl").read_bytes().splitlines()[:3]
    async with served(app, runtime) as http:
        for line in lines:
            assert (await http.post("/v1/datasets/d/traces", content=line)).status_code == 200
        other = await http.post("/v1/datasets/e/traces", content=lines[0])
    assert other.status_code == 200
    kept = sorted((tmp_path / "sanitizer" / "uploads" / "d").glob("upload-*"))
    assert len(kept) == 2
    assert len(list((tmp_path / "sanitizer" / "uploads" / "e").glob("upload-*"))) == 1


def test_uploads_older_than_the_age_limit_are_pruned_but_not_while_being_read(
    tmp_path: Path,
) -> None:
    uploads = Uploads(tmp_path, max_age_s=3600, max_per_dataset=0)
    with uploads.saved("d", b'{"old": 1}') as old:
        week_ago = time.time() - 7 * 24 * 3600
        os.utime(old, (week_ago, week_ago))
        with uploads.saved("d", b'{"new": 1}') as new:
            assert old.exists(), "an upload being read is never pruned"
    assert uploads.prune() == [old] and not old.exists()
    assert new.exists()
    # the same body again is the same file, and its age starts again
    with uploads.saved("d", b'{"new": 1}') as again:
        assert again == new
    unlimited = Uploads(tmp_path, max_age_s=0, max_per_dataset=0)
    os.utime(new, (week_ago, week_ago))
    assert unlimited.prune() == []
