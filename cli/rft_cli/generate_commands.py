"""`rft generate` (step E) and `rft split` (step F), and the journey steps `rft run` calls.

Step E reads step C's categorized_prompts.jsonl and topic_hierarchy.json (a candidate is
re-categorized with step C's own classifier) and step D's coverage.json (when no --target is
given) from the output directory; the job id is derived from the dataset and the
targets, so running the same command again resumes the job where it stopped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.text import Text

from rft_cli.journey_context import JourneyContext
from rft_embedder import Embedder, EmbedderSettings, load_embedder, prompt_collection_spec
from rft_generator import (
    GenerationResult,
    GeneratorSettings,
    JobStore,
    open_job_store,
    recommended_targets,
    render_generation_screen,
    run_generation,
)
from rft_generator.pool import prompt_vectors
from rft_generator.prompting import LOCAL_MAX_TOKENS, SERVED_MAX_TOKENS, default_max_tokens
from rft_generator.sources import CategorizedFiles
from rft_generator.split_batch import split_files
from rft_generator.split_screen import render_split_screen
from rft_generator.topic_check import TopicChecker
from rft_runtime.llm import LLMSettings, llm_endpoint
from rft_runtime.settings import RuntimeSettings
from rft_runtime.vectorstore import VectorStore, open_vector_store
from rft_schemas import CategorizedPrompt, GenerationRequest, QualitySettings, TopicHierarchy
from rft_schemas.artifacts import (
    CATEGORIZED_PROMPTS,
    COVERAGE,
    HF_DATASET,
    SPLIT_MANIFEST,
    SYNTHETIC_PROMPTS,
    TOPIC_HIERARCHY,
    TRAIN_SPLIT,
    VALID_SPLIT,
)

app = typer.Typer(add_completion=False)
console = Console()


def job_id_for(dataset: str, targets: dict[str, int], seed: int) -> str:
    digest = hashlib.sha256(json.dumps([dataset, sorted(targets.items()), seed]).encode())
    return f"{dataset}-gen-{digest.hexdigest()[:10]}"


def parse_targets(values: list[str]) -> dict[str, int]:
    targets = {}
    for value in values:
        topic, _, count = value.partition("=")
        if not topic or not count.isdigit():
            raise typer.BadParameter(f"--target takes topic=count (billing/refunds=200): {value}")
        targets[topic] = int(count)
    return targets


async def _run_with_screen(
    request: GenerationRequest, out_dir: Path, runtime: RuntimeSettings, show: Console,
    targets_note: str,
) -> GenerationResult:
    # the reader the service uses without a categorizer URL, on this one output directory
    categorized = CategorizedFiles.in_directory(out_dir).categorized(request.dataset)
    settings = GeneratorSettings(data_dir=runtime.data_dir)
    store: JobStore = open_job_store(settings.resolved_job_store_url())
    vector_store = open_vector_store(runtime)
    embed_settings = EmbedderSettings()
    embedder = load_embedder(embed_settings, runtime.data_dir)
    checker = _step_c_checker(out_dir, request.dataset, categorized, vector_store, embedder,
                              embed_settings)
    try:
        with llm_endpoint(LLMSettings(), log_path=runtime.data_dir / "llm-server.log") as llm:
            show.print(f"Generating with {llm.model} at {llm.base_url} ({targets_note})")
            with Live(Text("starting..."), console=show, refresh_per_second=2) as live:
                task = asyncio.create_task(run_generation(
                    request, categorized, store, vector_store, llm, settings,
                    embedder=embedder, embed_settings=embed_settings, checker=checker,
                    output=SYNTHETIC_PROMPTS.path(out_dir),
                ))
                while not task.done():
                    job = store.get(request.id)
                    if job is not None:
                        live.update(Text(render_generation_screen(job)))
                    await asyncio.wait({task}, timeout=1.0)
                result = task.result()
                live.update(Text(render_generation_screen(result.job)))
    finally:
        vector_store.close()
        store.close()
    return result


def _step_c_checker(
    out_dir: Path, dataset: str, categorized: list[CategorizedPrompt], vector_store: VectorStore,
    embedder: Embedder, embed_settings: EmbedderSettings,
) -> TopicChecker | None:
    """Step C's classifier over the hierarchy when there is one (else the job's default, the
    nearest topic prototype)."""
    path = TOPIC_HIERARCHY.path(out_dir)
    if not path.is_file():
        return None
    from rft_categorizer.categorize import CategorizerTopicChecker
    from rft_categorizer.runner import CategorizeRunner
    from rft_categorizer.settings import CategorizerSettings

    hierarchy = TopicHierarchy.model_validate_json(path.read_text(encoding="utf-8"))
    collection = vector_store.ensure_collection(prompt_collection_spec(
        dataset, embedder.dimensions, embed_settings.collection_prefix))
    pool = prompt_vectors([c.prompt for c in categorized], collection, embedder, embed_settings)
    settings = CategorizerSettings()
    runner = CategorizeRunner(embedder, vector_store, settings, embed_settings.collection_prefix)
    classifier = runner.classifier(hierarchy, pool)
    return CategorizerTopicChecker(classifier, pool, settings.decision_rules())


def generate_in(
    out_dir: Path, dataset: str, runtime: RuntimeSettings, show: Console,
    targets: dict[str, int] | None = None, **options: object,
) -> GenerationResult:
    """Step E on the files of ``out_dir``; targets default to coverage's recommendation."""
    note = "targets given"
    if not targets:
        coverage = COVERAGE.path(out_dir)
        if not coverage.is_file():
            raise FileNotFoundError(f"no --target given and no {coverage} (step D) to take "
                                    "the recommendation from")
        cap = GeneratorSettings().max_new_per_topic
        # the service's default (JobScheduler), from the same reader
        targets = recommended_targets(
            CategorizedFiles.in_directory(out_dir).coverage(dataset), cap)
        note = "coverage's recommendation"
        if cap is not None:
            note += f", at most {cap} per topic (RFT_GENERATOR_MAX_NEW_PER_TOPIC)"
    seed = int(options.pop("seed", 0))  # type: ignore[call-overload]
    if options.get("max_tokens") is None:  # by backend: the local model, or an endpoint
        options["max_tokens"] = default_max_tokens(LLMSettings())
    request = GenerationRequest.model_validate({
        "id": job_id_for(dataset, targets, seed), "dataset": dataset, "targets": targets,
        "seed": seed, **options,
    })
    return asyncio.run(_run_with_screen(request, out_dir, runtime, show, note))


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="directory with step C's files")] = Path("out"),
    dataset: Annotated[str | None, typer.Option(help="dataset name (default: out dir's)")] = None,
    target: Annotated[list[str] | None, typer.Option(help="topic=count, repeatable")] = None,
    few_shot: Annotated[int, typer.Option(help="examples per request")] = 4,
    temperature: float = 0.9,
    max_tokens: Annotated[int | None, typer.Option(
        min=1, help=f"per candidate; default {LOCAL_MAX_TOKENS} on the local model, "
        f"{SERVED_MAX_TOKENS} on an endpoint (RFT_LLM_BASE_URL)")] = None,
    novelty_max_cosine: float = 0.92,
    topic_min_confidence: float = 0.5,
    judge_min_score: Annotated[float | None, typer.Option(help="LLM judge threshold")] = None,
    max_attempts_per_prompt: Annotated[
        float, typer.Option(help="a topic stops after target x this many candidates")
    ] = 8.0,
    seed: int = 0,
) -> None:
    """Step E: synthetic prompts for the coverage gaps -> OUT/synthetic_prompts.jsonl."""
    runtime = RuntimeSettings()
    result = generate_in(
        out, dataset or out.resolve().name, runtime, console, parse_targets(target or []),
        few_shot=few_shot, temperature=temperature, max_tokens=max_tokens, seed=seed,
        max_attempts_per_prompt=max_attempts_per_prompt,
        quality=QualitySettings(novelty_max_cosine=novelty_max_cosine,
                                topic_min_confidence=topic_min_confidence,
                                judge_min_score=judge_min_score),
    )
    console.print(f"{result.written} synthetic prompts in {result.output}")
    if result.job.error:
        console.print(f"[yellow]{result.job.error}[/yellow]")
        if result.job.status.value == "failed":
            raise typer.Exit(1)


def split_in(
    out_dir: Path, dataset: str, runtime: RuntimeSettings, show: Console, **options: object
) -> dict[str, Path]:
    embedder = load_embedder(EmbedderSettings(), runtime.data_dir)
    synthetic = SYNTHETIC_PROMPTS.path(out_dir)
    result, paths = split_files(
        CATEGORIZED_PROMPTS.path(out_dir), synthetic if synthetic.is_file() else None, out_dir,
        embedder, dataset, **options,
    )
    show.print(render_split_screen(result.manifest))
    return {str(name): Path(path) for name, path in paths.items()}


@app.command()
def split(
    out: Annotated[Path, typer.Option("--out", help="directory with steps C and E files")] = Path(
        "out"
    ),
    dataset: Annotated[str | None, typer.Option(help="dataset name (default: out dir's)")] = None,
    seed: int = 0,
    valid_fraction: float = 0.1,
    valid_real_only: Annotated[bool, typer.Option(help="valid holds only real traces")] = True,
    near_duplicate_cosine: float = 0.95,
) -> None:
    """Step F: rft_prompts.train/valid.jsonl, hf_dataset/ and split_manifest.json in OUT."""
    paths = split_in(out, dataset or out.resolve().name, RuntimeSettings(), console, seed=seed,
                     valid_fraction=valid_fraction, valid_real_only=valid_real_only,
                     near_duplicate_cosine=near_duplicate_cosine)
    for name, path in paths.items():
        console.print(f"{name}: {path}")


def generate_step(context: JourneyContext) -> None:
    # The local 135M model passes validation less often than a served model: a wider budget
    # of attempts (max_tokens: the backend's default, as for `rft generate`).
    result = generate_in(context.out_dir, context.dataset, context.settings, context.console,
                         max_attempts_per_prompt=8.0)
    context.results["generate"] = result.job
    context.artifacts[SYNTHETIC_PROMPTS.name] = result.output


def split_step(context: JourneyContext) -> None:
    paths = split_in(context.out_dir, context.dataset, context.settings, context.console)
    context.results["split"] = json.loads(paths[SPLIT_MANIFEST.name].read_text())
    for artifact in (TRAIN_SPLIT, VALID_SPLIT, SPLIT_MANIFEST, HF_DATASET):
        context.artifacts[artifact.name] = paths[artifact.name]


def register(parent: typer.Typer) -> None:
    """Add `rft generate` and `rft split` to the main command."""
    parent.command()(generate)
    parent.command()(split)
