"""The batch runner behind ``rft sanitize INPUT... --out DIR``.

Writes ``DIR/sanitized_prompts.jsonl``, ``DIR/rejected.jsonl`` and ``DIR/sanitize_report.json``.
Each file is written beside its final name and renamed into place when the run ends, so a run
that dies leaves the previous outputs whole; the dedup store makes a re-run keep what it kept.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from rft_sanitizer.core import Policy
from rft_sanitizer.dedup import DedupStore, open_dedup_store
from rft_sanitizer.pipeline import ReportBuilder, Sanitizer
from rft_sanitizer.reader import read_traces
from rft_sanitizer.settings import SanitizerSettings
from rft_sanitizer.tokens import TokenCounter, load_token_counter
from rft_schemas.artifacts import REJECTED, SANITIZE_REPORT, SANITIZED_PROMPTS
from rft_schemas.traces import RawTrace, Rejection, SanitizedPrompt, SanitizeReport

PROMPTS_FILE = SANITIZED_PROMPTS.name
REJECTED_FILE = REJECTED.name
REPORT_FILE = SANITIZE_REPORT.name
_PROMPT_JSON = SanitizedPrompt.__pydantic_serializer__.to_json
_REJECTION_JSON = Rejection.__pydantic_serializer__.to_json


def sanitize_files(
    paths: Iterable[Path],
    out_dir: Path,
    settings: SanitizerSettings | None = None,
    *,
    counter: TokenCounter | None = None,
    store: DedupStore | None = None,
    progress: Callable[[int], None] | None = None,
) -> SanitizeReport:
    """Sanitize every record of the files, in order; return (and write) the report.

    ``progress`` is called after each batch with the number of records it held.
    """
    settings = settings or SanitizerSettings()
    counter = counter or load_token_counter(settings.tokenizer, settings.tokenizer_cache_dir())
    own_store = store is None
    store = store or open_dedup_store(settings.resolved_dedup_store())
    policy = Policy.from_settings(settings, counter)
    sanitizer = Sanitizer(policy, store)
    report = ReportBuilder(settings.dataset, counter.name, policy.bound, policy.closing.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    prompts_tmp = out_dir / f".{PROMPTS_FILE}.partial"
    rejected_tmp = out_dir / f".{REJECTED_FILE}.partial"
    try:
        with (
            _existing_objects_frozen(),
            prompts_tmp.open("wb") as prompts_out,
            rejected_tmp.open("wb") as rejected_out,
        ):
            for batch in batches(_records(paths, settings), settings.batch_size):
                for outcome in sanitizer.process_batch(batch):
                    report.add(outcome)
                    # to_json gives model_dump_json's bytes without the str round trip
                    if outcome.rejection is not None:
                        rejected_out.write(_REJECTION_JSON(outcome.rejection) + b"\n")
                    for prompt in outcome.prompts:
                        prompts_out.write(_PROMPT_JSON(prompt) + b"\n")
                if progress is not None:
                    progress(len(batch))
        result = report.report()
        report_tmp = out_dir / f".{REPORT_FILE}.partial"
        report_tmp.write_bytes(
            orjson.dumps(result.model_dump(mode="json"), option=orjson.OPT_INDENT_2) + b"\n"
        )
        os.replace(prompts_tmp, out_dir / PROMPTS_FILE)
        os.replace(rejected_tmp, out_dir / REJECTED_FILE)
        os.replace(report_tmp, out_dir / REPORT_FILE)
    finally:
        for leftover in (prompts_tmp, rejected_tmp):
            leftover.unlink(missing_ok=True)
        if own_store:
            store.close()
    return result


@contextmanager
def _existing_objects_frozen() -> Iterator[None]:
    """Keep the objects that outlive the run (modules, schemas, the caller's own) out of the
    garbage collector's full collections while it runs, and hand them back after.

    Each batch's models outlive the young generations, so full collections come every few
    batches, and each re-scanned every object of the process (a sixth of the time of a
    20,000-record run). Left alone where the caller froze objects itself: ``gc.unfreeze``
    would release those too.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def read_report(out_dir: Path) -> SanitizeReport:
    return SanitizeReport.model_validate_json((out_dir / REPORT_FILE).read_bytes())


def _records(paths: Iterable[Path], settings: SanitizerSettings) -> Iterator[RawTrace | Rejection]:
    for path in paths:
        yield from read_traces(
            Path(path), settings.dataset, settings.max_record_bytes, settings.excerpt_chars
        )


def batches(
    records: Iterator[RawTrace | Rejection], size: int
) -> Iterator[list[RawTrace | Rejection]]:
    batch: list[RawTrace | Rejection] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
