"""The durable job store, on SQLite and on a real PostgreSQL (the ``sql_store_url`` fixture)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from rft_schemas import JobStatus, TrainingEvent, TrainingEventKind, TrainingJobRequest
from rft_trainer_gateway.backends.base import RunHandle
from rft_trainer_gateway.store import JobStore
from tests.trainer_gateway.conftest import job, request_body

REQUEST = TrainingJobRequest.model_validate(request_body())


def step(n: int) -> TrainingEvent:
    return TrainingEvent(job_id="ignored", kind=TrainingEventKind.STEP, step=n, seq=100 + n)


def test_a_created_job_is_read_back_with_its_request(sql_store_url: str) -> None:
    store = JobStore(sql_store_url)
    store.create(job("ftjob-a"), REQUEST)
    record = JobStore(sql_store_url).record("ftjob-a")  # another replica's view
    assert record.job.status is JobStatus.QUEUED and record.job.dataset == "sums"
    assert record.request.train.rows == REQUEST.train.rows
    assert record.handle is None and record.read_seq == 0
    assert store.get("ftjob-missing") is None


def test_jobs_page_newest_first_by_an_after_cursor(sql_store_url: str) -> None:
    store = JobStore(sql_store_url)
    for i in range(5):
        created = job(f"ftjob-{i}")
        created.created_at = created.created_at.replace(microsecond=i)
        store.create(created, REQUEST)
    first = store.page(limit=2)
    assert [j.id for j in first.jobs] == ["ftjob-4", "ftjob-3"] and first.has_more
    second = store.page(after="ftjob-3", limit=2)
    assert [j.id for j in second.jobs] == ["ftjob-2", "ftjob-1"] and second.has_more
    last = store.page(after="ftjob-1", limit=2)
    assert [j.id for j in last.jobs] == ["ftjob-0"] and not last.has_more


def test_events_are_numbered_by_the_store_and_read_after_a_seq(sql_store_url: str) -> None:
    store = JobStore(sql_store_url)
    store.create(job("ftjob-e"), REQUEST)
    stored = store.append_events("ftjob-e", [step(1), step(2)], read_seq=7)
    assert [e.seq for e in stored] == [1, 2] and {e.job_id for e in stored} == {"ftjob-e"}
    store.append_events("ftjob-e", [step(3)])
    assert [e.step for e in store.events("ftjob-e", after=1)] == [2, 3]
    assert [e.seq for e in store.events("ftjob-e", after=0, limit=2)] == [1, 2]
    assert store.record("ftjob-e").read_seq == 7


def test_events_job_change_and_handle_are_written_together(sql_store_url: str) -> None:
    store = JobStore(sql_store_url)
    store.create(job("ftjob-t"), REQUEST)
    handle = RunHandle(backend="trl", pid=123, process_start=4.0)
    store.append_events("ftjob-t", [step(2)],
                        lambda j: j.model_copy(update={"step": 2, "status": JobStatus.RUNNING}),
                        read_seq=2, handle=handle)
    record = store.record("ftjob-t")
    assert record.job.step == 2 and record.job.status is JobStatus.RUNNING
    assert record.handle == handle and record.read_seq == 2
    assert store.ids([JobStatus.RUNNING]) == ["ftjob-t"]


def test_events_that_need_a_change_are_not_stored_without_one(sql_store_url: str) -> None:
    store = JobStore(sql_store_url)
    store.create(job("ftjob-c"), REQUEST)
    assert store.append_events("ftjob-c", [step(1)], lambda j: None, require_change=True) == []
    assert store.events("ftjob-c") == []


def test_concurrent_updates_never_overwrite_each_other(sql_store_url: str) -> None:
    """The supervisor's updates and an API cancel go through read-modify-write with a version:
    each of 40 increments from 4 replicas at once is kept."""
    JobStore(sql_store_url).create(job("ftjob-v"), REQUEST)
    replicas = [JobStore(sql_store_url) for _ in range(4)]

    def bump(store: JobStore) -> None:
        for _ in range(10):
            store.update("ftjob-v", lambda j: j.model_copy(update={"step": j.step + 1}))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(bump, replicas))
    assert replicas[0].get("ftjob-v").step == 40  # type: ignore[union-attr]


def test_a_queued_job_is_claimed_by_one_replica_only(sql_store_url: str) -> None:
    JobStore(sql_store_url).create(job("ftjob-q"), REQUEST)
    replicas = [JobStore(sql_store_url) for _ in range(3)]

    def claim(pair: tuple[int, JobStore]) -> bool:
        index, store = pair
        taken = store.claim("ftjob-q", f"replica-{index}",
                            lambda j: j.model_copy(update={"status": JobStatus.RUNNING}))
        return taken is not None

    with ThreadPoolExecutor(3) as pool:
        won = list(pool.map(claim, enumerate(replicas)))
    assert won.count(True) == 1
    owner = replicas[0].record("ftjob-q").owner
    assert owner == f"replica-{won.index(True)}"
    assert replicas[0].ids([JobStatus.RUNNING], owner=owner) == ["ftjob-q"]
    assert replicas[0].ids([JobStatus.RUNNING], owner="someone-else") == []


def test_jobs_with_events_the_broker_has_not_acknowledged_are_found(sql_store_url: str) -> None:
    store = JobStore(sql_store_url)
    for job_id in ("ftjob-mine", "ftjob-theirs"):
        store.create(job(job_id), REQUEST)
        store.claim(job_id, job_id.removeprefix("ftjob-"), lambda j: j)
        store.append_events(job_id, [step(1), step(2)])
    store.mark_published("ftjob-mine", 1)
    assert store.unpublished("mine") == ["ftjob-mine"]
    store.mark_published("ftjob-mine", 2)
    assert store.unpublished("mine") == []
