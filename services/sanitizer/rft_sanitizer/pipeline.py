"""The core plus the durable duplicate check: what every shell (batch runner, Kafka stage, HTTP
upload) calls on a batch of records, and the report they all keep.

    sanitizer = Sanitizer(policy, store)
    outcomes = sanitizer.process_batch(records)   # one RecordOutcome per record, in order
    report.add(outcome)                           # ReportBuilder, for sanitize_report.json

An outcome holds the record's prompts or its one rejection. Claims are made per batch in one
store transaction; a shell writes the outputs after ``process_batch`` returns.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from rft_sanitizer.checks import Problem
from rft_sanitizer.core import Accepted, Policy, rejection, sanitize
from rft_sanitizer.dedup import Claim, ClaimRequest, DedupStore
from rft_schemas.traces import (
    RawTrace,
    Rejection,
    RejectionReason,
    SanitizedPrompt,
    SanitizeReport,
    TokenBound,
    TokenStats,
)


@dataclass(frozen=True)
class RecordOutcome:
    prompts: list[SanitizedPrompt] = field(default_factory=list)
    rejection: Rejection | None = None
    dropped: dict[str, int] = field(default_factory=dict)
    redactions: dict[str, int] = field(default_factory=dict)
    harness: dict[str, int] = field(default_factory=dict)


class Sanitizer:
    def __init__(self, policy: Policy, store: DedupStore) -> None:
        self.policy = policy
        self.store = store

    def process_batch(self, records: Sequence[RawTrace | Rejection]) -> list[RecordOutcome]:
        """Records the reader already refused (a Rejection) pass through as outcomes."""
        results: list[Accepted | Rejection] = [
            r if isinstance(r, Rejection) else sanitize(r, self.policy) for r in records
        ]
        requests = [
            ClaimRequest(p.dataset, p.id, p.lineage.trace_id, p.lineage.source.describe())
            for result in results
            if isinstance(result, Accepted)
            for p in result.prompts
        ]
        claims = iter(self.store.claim_many(requests))
        outcomes = []
        for record, result in zip(records, results, strict=True):
            if isinstance(result, Rejection):
                outcomes.append(RecordOutcome(rejection=result))
                continue
            assert isinstance(record, RawTrace)
            record_claims = [next(claims) for _ in result.prompts]
            outcomes.append(self._deduplicated(record, result, record_claims))
        return outcomes

    def _deduplicated(
        self, record: RawTrace, accepted: Accepted, claims: list[Claim]
    ) -> RecordOutcome:
        # One record can hold the same prompt twice (an OTLP export request carries several
        # traces): the record owns both claims, and only the first copy is kept.
        kept: dict[str, SanitizedPrompt] = {}
        foreign: list[Claim] = []
        for prompt, claim in zip(accepted.prompts, claims, strict=True):
            if not claim.owned_by(record.id):
                foreign.append(claim)
            else:
                kept.setdefault(prompt.id, prompt)
        if kept:
            dropped = dict(accepted.dropped)
            duplicates = len(accepted.prompts) - len(kept)
            if duplicates:
                reason = RejectionReason.DUPLICATE.value
                dropped[reason] = dropped.get(reason, 0) + duplicates
            return RecordOutcome(
                list(kept.values()), None, dropped, accepted.redactions, accepted.harness
            )
        first = foreign[0]
        refused = rejection(
            record,
            Problem(
                RejectionReason.DUPLICATE,
                f"same prompt as the one kept from {first.owner_source}",
            ),
            self.policy.excerpt_chars,
        )
        refused.duplicate_of = first.prompt_id
        return RecordOutcome(rejection=refused)


class ReportBuilder:
    """Accumulates a SanitizeReport in constant memory (token counts as a histogram)."""

    def __init__(
        self,
        dataset: str,
        tokenizer: str | None = None,
        token_bound: TokenBound | None = None,
        closing_test: str | None = None,
    ) -> None:
        self.dataset = dataset
        self.tokenizer = tokenizer
        self.token_bound = token_bound
        self.closing_test = closing_test
        self.harness: Counter[str] = Counter()
        self.input = 0
        self.valid = 0
        self.prompts = 0
        self.rejected: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.redactions: Counter[str] = Counter()
        self.formats: Counter[str] = Counter()
        self.estimated = 0
        self.token_histogram: Counter[int] = Counter()

    def add(self, outcome: RecordOutcome) -> None:
        self.input += 1
        if outcome.rejection is not None:
            self.rejected[outcome.rejection.reason.value] += 1
            return
        self.valid += 1
        self.prompts += len(outcome.prompts)
        if outcome.dropped:  # most records drop and redact nothing: spare Counter.update
            self.dropped.update(outcome.dropped)
        if outcome.redactions:
            self.redactions.update(outcome.redactions)
        if outcome.harness:
            self.harness.update(outcome.harness)
        self.formats[outcome.prompts[0].lineage.format.value] += 1
        for prompt in outcome.prompts:
            if prompt.token_count is None:
                self.estimated += 1
            else:
                self.token_histogram[prompt.token_count] += 1

    def report(self) -> SanitizeReport:
        return SanitizeReport(
            dataset=self.dataset,
            input=self.input,
            valid=self.valid,
            prompts=self.prompts,
            rejected=dict(self.rejected.most_common()),
            dropped_prompts=dict(self.dropped.most_common()),
            redactions=dict(sorted(self.redactions.items())),
            formats=dict(self.formats.most_common()),
            tokens=self._token_stats(),
            token_bound=self.token_bound,
            closing_test=self.closing_test,
            harness_dropped=dict(self.harness.most_common()),
        )

    def _token_stats(self) -> TokenStats:
        counted = sum(self.token_histogram.values())
        stats = TokenStats(counted=counted, estimated=self.estimated, tokenizer=self.tokenizer)
        if not counted:
            return stats
        values = sorted(self.token_histogram.items())
        total = sum(v * n for v, n in values)
        stats.total = total
        stats.min, stats.max = values[0][0], values[-1][0]
        stats.mean = round(total / counted, 2)
        stats.p50 = _percentile(values, counted, 0.50)
        stats.p95 = _percentile(values, counted, 0.95)
        return stats


def _percentile(values: list[tuple[int, int]], count: int, q: float) -> int:
    rank = max(1, math.ceil(q * count))  # nearest-rank
    seen = 0
    for value, n in values:
        seen += n
        if seen >= rank:
            return value
    return values[-1][0]
