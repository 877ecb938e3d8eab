"""The durable job store: progress is derived from scores keyed by rollout id."""

from __future__ import annotations

from rft_grader.dryrun.prompts import DryRunPrompt
from rft_grader.dryrun.rollouts import rollout_requests
from rft_grader.jobs import JobSpec, JobStore
from rft_schemas.conversation import Message
from rft_schemas.rollouts import DryRunStatus, Score


def requests(job: str = "job"):
    prompts = [DryRunPrompt(f"p{i}", "all", [Message(role="user", content=str(i))], None, {})
               for i in range(3)]
    return rollout_requests(job, prompts, k=2, model="m", grader={"type": "string_check"},
                            max_tokens=8, temperature=1.0, seed=0)


def score(request, reward: float = 0.5) -> Score:
    return Score(rollout_id=request.id, job_id=request.job_id, prompt_id=request.prompt_id,
                 sample_index=request.sample_index, reward=reward)


def test_a_score_delivered_twice_counts_once_and_pending_is_what_has_no_score(sql_store_url):
    store = JobStore(sql_store_url)
    reqs = requests()
    spec = JobSpec(dataset="d", model="m", grader_name="g", samples_per_prompt=2)
    assert store.create("job", spec, reqs) is True
    assert store.create("job", spec, reqs) is False, "the same job again is not a new one"
    assert store.record([score(reqs[0]), score(reqs[1])]) == {"job"}
    assert store.record([score(reqs[0], reward=0.9)]) == set()
    assert store.progress("job") == (2, 6)
    assert [r.id for r in store.pending("job")] == sorted(r.id for r in reqs[2:])
    assert [s.reward for s in store.scores("job") if s.rollout_id == reqs[0].id] == [0.5]

    store.close()
    reopened = JobStore(sql_store_url)
    job = reopened.get("job")
    assert job is not None and job.status is DryRunStatus.RUNNING
    assert (job.done, job.total) == (2, 6)
    assert reopened.unfinished() == [("job", False)]
    assert reopened.get("nope") is None
    reopened.mark_published("job")
    assert reopened.published("job") and reopened.unfinished() == [("job", True)]


def test_rollout_ids_and_seeds_are_stable_and_distinct_per_sample():
    first, again = requests(), requests()
    assert [r.id for r in first] == [r.id for r in again]
    assert [r.seed for r in first] == [r.seed for r in again]
    assert len({r.seed for r in first}) == len(first)
    assert first[0].id == "job:p0:0" and first[1].id == "job:p0:1"
