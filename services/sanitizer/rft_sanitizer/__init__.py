"""Step A: real trace formats in, clean RFT prompts out, every rejection explained.

The pure core is :func:`rft_sanitizer.core.sanitize`; :class:`rft_sanitizer.pipeline.Sanitizer`
adds the durable duplicate check; :func:`rft_sanitizer.batch.sanitize_files` is the batch runner
behind ``rft sanitize``; :mod:`rft_sanitizer.views` renders the screen and pages rejections.
"""

from rft_sanitizer.batch import read_report, sanitize_files
from rft_sanitizer.core import Accepted, Policy, sanitize
from rft_sanitizer.dedup import DedupStore, SQLDedupStore, open_dedup_store
from rft_sanitizer.pipeline import RecordOutcome, ReportBuilder, Sanitizer
from rft_sanitizer.reader import read_traces
from rft_sanitizer.settings import ExtractionPolicy, RedactionMode, SanitizerSettings
from rft_sanitizer.tokens import TokenCounter, load_token_counter
from rft_sanitizer.views import (
    RejectedPage,
    UnreadableRejected,
    list_rejected,
    render_report_screen,
)

__all__ = [
    "Accepted",
    "DedupStore",
    "ExtractionPolicy",
    "Policy",
    "RecordOutcome",
    "RedactionMode",
    "RejectedPage",
    "ReportBuilder",
    "SQLDedupStore",
    "Sanitizer",
    "SanitizerSettings",
    "TokenCounter",
    "UnreadableRejected",
    "list_rejected",
    "load_token_counter",
    "open_dedup_store",
    "read_report",
    "read_traces",
    "render_report_screen",
    "sanitize",
    "sanitize_files",
]
