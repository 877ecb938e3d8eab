"""The journey's artifacts, named once: every file (and folder) steps A to J leave in a run dir.

Each :class:`Artifact` says its file name, the step that writes it, its contract and what it
holds. The contract is the pydantic model a line (``.jsonl``) or the whole document (``.json``)
validates as, exactly as written; it is None for images and folders, and for the few files
whose lines are another shape (said in the description). Code that reads or writes an artifact
takes its name from here (``SANITIZED_PROMPTS.name``, ``SANITIZED_PROMPTS.path(run_dir)``);
tests may keep the literal names, since those are the on-disk contract.

A training job's directory (the gateway's ``<data_dir>/training/<job id>``, or the run dir for
`rft train`) holds step I's and J's artifacts under the same names, and copies of step F's
split and step G's grader config as its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from rft_schemas.generation import SplitManifest, SyntheticPrompt
from rft_schemas.grader import GraderConfig
from rft_schemas.rollouts import DryRunReport
from rft_schemas.topics import CoverageReport, TopicHierarchy
from rft_schemas.traces import Rejection, SanitizedPrompt, SanitizeReport
from rft_schemas.training import DeployResult, EvalComparison, TrainingEvent, TrainingJob

STEPS = "ABCDEFGHIJ"

ArtifactKind = Literal["lines", "document", "image", "folder"]
_KINDS: dict[str, ArtifactKind] = {".jsonl": "lines", ".json": "document", ".png": "image",
                                   "": "folder"}


@dataclass(frozen=True)
class Artifact:
    name: str
    step: str
    contract: type[BaseModel] | None
    description: str

    @property
    def kind(self) -> ArtifactKind:
        """``lines`` (JSONL, one contract per line), ``document`` (one JSON), ``image`` or
        ``folder``, from the name's suffix."""
        return _KINDS[Path(self.name).suffix]

    def path(self, run_dir: Path) -> Path:
        """Where the artifact lives in ``run_dir``."""
        return run_dir / self.name


# ---- A: sanitize ----------------------------------------------------------------------------
SANITIZED_PROMPTS = Artifact(
    "sanitized_prompts.jsonl", "A", SanitizedPrompt,
    "every prompt cut from the raw traces, cleaned, deduplicated and bounded")
REJECTED = Artifact(
    "rejected.jsonl", "A", Rejection, "every record the sanitizer dropped, with its reason")
SANITIZE_REPORT = Artifact(
    "sanitize_report.json", "A", SanitizeReport,
    "counts in and out, rejections by reason, token statistics")

# ---- B, C, D: topics, categorization, coverage ---------------------------------------------
TOPIC_HIERARCHY = Artifact(
    "topic_hierarchy.json", "B", TopicHierarchy,
    "the topics and subtopics, discovered, from a template or hand-written")
CATEGORIZED_PROMPTS = Artifact(
    "categorized_prompts.jsonl", "C", None,
    "one self-contained line per prompt: a CategorizedPrompt flattened, the SanitizedPrompt's "
    "fields then ``topic`` and the categorization fields (rft_schemas.categorized_file)")
COVERAGE = Artifact(
    "coverage.json", "D", CoverageReport,
    "records per topic, gaps to target, what to generate")
COVERAGE_CHART = Artifact("coverage.png", "D", None, "the coverage per topic, drawn")

# ---- E, F: generation, split ----------------------------------------------------------------
SYNTHETIC_PROMPTS = Artifact(
    "synthetic_prompts.jsonl", "E", SyntheticPrompt,
    "the validated synthetic prompts of a generation job (its output directory holds it)")
TRAIN_SPLIT = Artifact(
    "rft_prompts.train.jsonl", "F", None,
    "the train split as OpenAI RFT rows: the grader's item (rft_schemas.grader_item) plus "
    "``topic``, ``lineage``, ``origin`` and ``id``")
VALID_SPLIT = Artifact(
    "rft_prompts.valid.jsonl", "F", None, "the validation split, rows as in the train split")
SPLIT_MANIFEST = Artifact(
    "split_manifest.json", "F", SplitManifest,
    "how the split was made: counts per split, topic and origin, the leakage guard's moves, "
    "each prompt's side")
HF_DATASET = Artifact(
    "hf_dataset", "F", None,
    "the split as a Hugging Face dataset: train.jsonl, validation.jsonl and a card")

# ---- G, H: grader, dry run ------------------------------------------------------------------
GRADER_CONFIG = Artifact(
    "grader_config.json", "G", GraderConfig,
    "the grader (OpenAI's JSON, no nulls) and the preset it came from")
RED_TEAM_REPORT = Artifact(
    "red_team_report.json", "G", None,
    "what the grader pays known exploits (rft_grader.red_team.RedTeamReport)")
DRY_RUN_REPORT = Artifact(
    "dry_run_report.json", "H", DryRunReport,
    "the base model's scores under the grader, and the GO / NO-GO verdict")
DRY_RUN_CHART = Artifact(
    "dry_run.png", "H", None, "the score histogram and the mean by topic")

# ---- I, J: training, results and deploy (a training job's directory) ------------------------
TRAINING_JOB = Artifact(
    "training_job.json", "I", TrainingJob, "the training job: request, status, progress")
TRAINING_EVENTS = Artifact(
    "training_events.jsonl", "I", TrainingEvent,
    "the training's events in order (steps, evaluations, checkpoints, the end)")
REWARD_CURVES = Artifact(
    "reward_curves.png", "I", None, "train and valid reward, overall and per grader, by step")
CHECKPOINTS = Artifact(
    "checkpoints", "I", None, "the best checkpoints by valid reward, each with its metadata")
RESULTS = Artifact(
    "results.json", "J", EvalComparison,
    "the base model against the best checkpoint on the valid split")
COMPARISON_CHART = Artifact(
    "comparison.png", "J", None, "per topic: before and after, and the change with its interval")
DEPLOYS = Artifact(
    "deploys.jsonl", "J", DeployResult, "every deploy of the job (a forced one with its reason)")
EXPORT = Artifact("export", "J", None, "the tuned model, exported with its results")

ARTIFACTS: tuple[Artifact, ...] = (
    SANITIZED_PROMPTS, REJECTED, SANITIZE_REPORT,
    TOPIC_HIERARCHY, CATEGORIZED_PROMPTS, COVERAGE, COVERAGE_CHART,
    SYNTHETIC_PROMPTS, TRAIN_SPLIT, VALID_SPLIT, SPLIT_MANIFEST, HF_DATASET,
    GRADER_CONFIG, RED_TEAM_REPORT, DRY_RUN_REPORT, DRY_RUN_CHART,
    TRAINING_JOB, TRAINING_EVENTS, REWARD_CURVES, CHECKPOINTS,
    RESULTS, COMPARISON_CHART, DEPLOYS, EXPORT,
)

_BY_NAME = {artifact.name: artifact for artifact in ARTIFACTS}


def artifact(name: str) -> Artifact:
    """The artifact called ``name``; KeyError when the journey writes no such file."""
    return _BY_NAME[name]


def written_by(step: str) -> tuple[Artifact, ...]:
    """The artifacts step ``step`` (a letter A-J) writes, in the registry's order."""
    if step not in STEPS or len(step) != 1:
        raise ValueError(f"no step {step!r}: the journey's steps are {', '.join(STEPS)}")
    return tuple(a for a in ARTIFACTS if a.step == step)


def paths(run_dir: Path, *artifacts: Artifact) -> dict[str, Path]:
    """``name -> path in run_dir`` for each artifact given (how the journey lists its files)."""
    return {a.name: a.path(run_dir) for a in artifacts}
