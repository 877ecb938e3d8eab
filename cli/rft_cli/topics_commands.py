"""`rft topics discover|template|show|edit|load`, `rft categorize`, `rft coverage`, `rft review`
(steps B, C, D on one machine) and the journey's step functions for them.

Files in the --out directory: topic_hierarchy.json, categorized_prompts.jsonl, coverage.json,
coverage.png. Prompt vectors live in Qdrant Edge under RFT_DATA_DIR (one embedding pass per
prompt, shared by discovery, categorization and re-categorization after an edit). Register on
the main app with ``register(app)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.tree import Tree

from rft_categorizer.batch import (
    EmbedMissing,
    categorize_all,
    ensure_embedded,
    keep_decisions,
    read_prompts,
)
from rft_categorizer.categorize import (
    HIGH_CONFIDENCE_ABOVE,
    check_manual_topic,
    confidence_band,
    decide_topic,
    review_queue,
)
from rft_categorizer.categorized_file import read_categorized, write_categorized
from rft_categorizer.coverage import compute_coverage
from rft_categorizer.coverage_chart import coverage_png, render_coverage_chart, render_difficulty
from rft_categorizer.editing import HierarchyEditError, MissingEditArgument, apply_edit
from rft_categorizer.labeling import TopicLabeler
from rft_categorizer.llm_labeler import LLMTopicLabeler
from rft_categorizer.runner import CategorizeRunner, write_topic_payloads
from rft_categorizer.second_opinion import needs_second_opinion, second_opinion
from rft_categorizer.settings import CategorizerSettings
from rft_categorizer.templates import (
    HierarchyFileError,
    load_template,
    parse_hierarchy_file,
    template_description,
    template_names,
)
from rft_cli.journey_context import JourneyContext
from rft_cli.progress import record_progress
from rft_embedder import EmbedderSettings, EmbedOutcome, embed_prompts, load_embedder
from rft_runtime.llm import LLMClient, LLMSettings, llm_endpoint
from rft_runtime.settings import RuntimeSettings
from rft_runtime.vectorstore import (
    MissingCollectionError,
    collection_name,
    open_vector_store,
    point_id,
)
from rft_schemas.artifacts import (
    CATEGORIZED_PROMPTS,
    COVERAGE,
    COVERAGE_CHART,
    SANITIZED_PROMPTS,
    TOPIC_HIERARCHY,
    paths,
)
from rft_schemas.topics import CategorizedPrompt, CoverageReport, TopicHierarchy
from rft_schemas.traces import SanitizedPrompt

ChunkDone = Callable[[list[CategorizedPrompt]], None]

topics_app = typer.Typer(help="Step B: the topic hierarchy (discover, template, edit, load).",
                         no_args_is_help=True)
console = Console()


# ---- shared by the commands and the journey steps -------------------------------------------

@dataclass
class LocalTopics:
    """The categorizer runner on one machine: Qdrant Edge (or RFT_QDRANT_URL) and the model,
    which also embeds the prompts that lack vectors (the embedder's step, in process)."""

    runner: CategorizeRunner
    embedder_settings: EmbedderSettings
    embed_missing: EmbedMissing


def _categorizer_settings(runtime: RuntimeSettings) -> CategorizerSettings:
    return CategorizerSettings().model_copy(update={"data_dir": runtime.data_dir,
                                                    "qdrant_path": runtime.qdrant_path,
                                                    "qdrant_url": runtime.qdrant_url})


@contextmanager
def local_topics(runtime: RuntimeSettings) -> Iterator[LocalTopics]:
    settings = _categorizer_settings(runtime)
    embedder_settings = EmbedderSettings()
    store = open_vector_store(settings)
    try:
        embedder = load_embedder(embedder_settings, runtime.data_dir)

        def embed_missing(prompts: Sequence[SanitizedPrompt]) -> EmbedOutcome:
            return embed_prompts(prompts, embedder, store, embedder_settings)

        yield LocalTopics(
            CategorizeRunner(embedder, store, settings, embedder_settings.collection_prefix),
            embedder_settings,
            embed_missing,
        )
    finally:
        store.close()


def _write_topics_to_store(dataset: str, records: list[CategorizedPrompt]) -> None:
    """The topics into the dataset's Qdrant payloads, without an embedding model."""
    settings = _categorizer_settings(RuntimeSettings())
    store = open_vector_store(settings)
    try:
        name = collection_name(EmbedderSettings().collection_prefix, dataset)
        try:
            collection = store.open_collection(name)
        except MissingCollectionError:
            return  # nothing embedded in this store: the file is the only record
        write_topic_payloads(collection, records)
    finally:
        store.close()


def _read_sanitized(out_dir: Path, dataset: str) -> list[SanitizedPrompt]:
    path = SANITIZED_PROMPTS.path(out_dir)
    if not path.is_file():
        raise typer.BadParameter(
            f"{out_dir} holds no {SANITIZED_PROMPTS.name}: run `rft sanitize` first")
    # The dataset of the run names the collection; prompts keep their own records otherwise.
    return [p if p.dataset == dataset else p.model_copy(update={"dataset": dataset})
            for p in read_prompts(path)]


def read_hierarchy(out_dir: Path, dataset: str) -> TopicHierarchy:
    path = TOPIC_HIERARCHY.path(out_dir)
    if not path.is_file():
        raise typer.BadParameter(
            f"{out_dir} holds no {TOPIC_HIERARCHY.name}: run `rft topics` first")
    try:
        return parse_hierarchy_file(path.read_text("utf-8"), dataset)
    except HierarchyFileError as error:
        raise typer.BadParameter(f"{path}: {error}") from None


def write_hierarchy(out_dir: Path, hierarchy: TopicHierarchy) -> Path:
    path = TOPIC_HIERARCHY.path(out_dir)
    path.write_text(hierarchy.model_dump_json(indent=2) + "\n", "utf-8")
    return path


def _embed_with_progress(
    local: LocalTopics, prompts: list[SanitizedPrompt], out: Console
) -> tuple[list[SanitizedPrompt], list[str]]:
    with record_progress(out, "Embedding prompts", total=len(prompts)) as advance:
        done = ensure_embedded(local.runner, prompts, local.embedder_settings, advance,
                               embed_missing=local.embed_missing)
    if done.newly_embedded:
        out.print(f"embedded {done.newly_embedded:,} prompts; {done.near_duplicates:,} are "
                  "near-duplicates of an earlier prompt (marked near_duplicate_of)")
    return done.prompts, done.texts


@contextmanager
def _labeler(
    use_llm: bool, out: Console, purpose: str = "topic names"
) -> Iterator[LLMSettings | None]:
    """The configured LLM, or the local default model started for the block; None (keyword
    labels, no second opinions) when it is off or cannot start."""
    if not use_llm:
        yield None
        return
    with ExitStack() as stack:
        try:
            settings = stack.enter_context(llm_endpoint(LLMSettings()))
        except Exception as error:  # no model on disk, no port...: names come from keywords
            out.print(f"[yellow]LLM unavailable ({error}): no LLM {purpose}[/yellow]")
            settings = None
        yield settings


def discover_hierarchy(
    local: LocalTopics, dataset: str, prompts: list[SanitizedPrompt], use_llm: bool, out: Console,
    min_topics: int | None = None,
) -> TopicHierarchy:
    kept, texts = _embed_with_progress(local, prompts, out)
    if not kept:
        raise typer.BadParameter("no prompts to discover topics from")
    settings = local.runner.settings

    async def run(llm: LLMSettings | None) -> tuple[TopicHierarchy, int, int]:
        labeler: TopicLabeler | None = None
        client = LLMClient(llm) if llm is not None else None
        try:
            if client is not None:
                labeler = LLMTopicLabeler(client)
            found = await local.runner.discover(
                dataset, kept, [_point(p) for p in kept], texts, labeler, min_leaves=min_topics
            )
        finally:
            if client is not None:
                await client.aclose()
        return found.hierarchy, found.labels_from_llm, found.labels_from_keywords

    with _labeler(use_llm and settings.topics_label_with_llm, out) as llm, out.status(
        f"Clustering {len(kept):,} prompts and naming topics..."
    ):
        hierarchy, from_llm, from_keywords = asyncio.run(run(llm))
    out.print(f"named {from_llm} topics with the LLM, {from_keywords} from keywords")
    return hierarchy


def _point(prompt: SanitizedPrompt) -> str:
    return str(point_id(prompt.id))


@contextmanager
def confidence_progress(out: Console, total: int, review_below: float) -> Iterator[ChunkDone]:
    """The seed's categorizing screen, live: processed counts and the confidence spread
    (``review_below``: the categorizer's RFT_CATEGORIZE_REVIEW_BELOW)."""
    columns = [TextColumn("Categorizing records"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[spread]}"), TimeElapsedColumn()]
    counts = {"high": 0, "medium": 0, "review": 0}
    high, review = HIGH_CONFIDENCE_ABOVE, review_below
    with Progress(*columns, console=out, transient=True) as progress:
        task = progress.add_task("categorize", total=total, spread="")

        def advance(records: list[CategorizedPrompt]) -> None:
            for record in records:
                counts[confidence_band(record.confidence, review_below)] += 1
            spread = (f">{high:g}: {counts['high']:,}  {review:g}-{high:g}: "
                      f"{counts['medium']:,}  <{review:g}: {counts['review']:,}")
            progress.update(task, advance=len(records), spread=spread)

        yield advance


def llm_second_opinion(
    runner: CategorizeRunner,
    hierarchy: TopicHierarchy,
    records: list[CategorizedPrompt],
    texts: list[str],
    out: Console,
) -> list[CategorizedPrompt]:
    """Ask the LLM about the records under the review threshold (RFT_CATEGORIZE_LLM_SECOND_
    OPINION); its changes are stored like any decision. Without an LLM, nothing changes."""
    below = runner.settings.categorize_review_below
    unsure = sum(needs_second_opinion(r, below) for r in records)
    if not unsure:
        return records

    async def review(llm: LLMSettings) -> list[CategorizedPrompt]:
        async with LLMClient(llm) as client:
            return await second_opinion(
                records, texts, hierarchy, LLMTopicLabeler(client), below=below
            )

    with _labeler(True, out, purpose="second opinions") as llm:
        if llm is None:
            return records
        with out.status(f"Asking the LLM about {unsure:,} low-confidence prompts..."):
            reviewed = asyncio.run(review(llm))
    pairs = list(zip(records, reviewed, strict=True))
    changed = [new for old, new in pairs if new != old]
    moved = sum(new.topic_path != old.topic_path for old, new in pairs)
    runner.write_topics(hierarchy.dataset, changed)
    out.print(f"LLM second opinion: {unsure:,} asked, {len(changed):,} answered, {moved:,} moved "
              "to their runner-up topic")
    return reviewed


def render_categorize_screen(
    records: list[CategorizedPrompt], total: int, review_below: float
) -> Table:
    counts = {"high": 0, "medium": 0, "review": 0}
    for record in records:
        counts[confidence_band(record.confidence, review_below)] += 1
    done = len(records)

    def share(n: int) -> str:
        return f"{n:,} ({100 * n / done:.1f}%)" if done else "0"

    table = Table(title="Categorizing Records", show_header=False)
    table.add_row("Processed", f"{done:,} / {total:,}")
    table.add_row(f"High confidence (>{HIGH_CONFIDENCE_ABOVE:g})", share(counts["high"]))
    table.add_row("Medium confidence", share(counts["medium"]))
    table.add_row(f"Needs review (<{review_below:g})", share(counts["review"]))
    table.add_row("Multi-topic", f"{sum(r.multi_topic for r in records):,}")
    table.add_row("Uncategorized", f"{sum(r.uncategorized for r in records):,}")
    return table


def categorize_dir(
    out_dir: Path, dataset: str, runtime: RuntimeSettings, out: Console
) -> list[CategorizedPrompt]:
    hierarchy = read_hierarchy(out_dir, dataset)
    prompts = _read_sanitized(out_dir, dataset)
    previous_file = CATEGORIZED_PROMPTS.path(out_dir)
    previous = ({r.prompt.id: r for r in read_categorized(previous_file)}
                if previous_file.is_file() else {})
    with local_topics(runtime) as local:
        review_below = local.runner.settings.categorize_review_below
        kept, texts = _embed_with_progress(local, prompts, out)
        with confidence_progress(out, len(kept), review_below) as advance:
            records = categorize_all(local.runner, hierarchy, kept, advance)
        # A person's decision (rft review --set) outlives re-categorization while its topic
        # is still a leaf, as in the service.
        records, decisions = keep_decisions(local.runner, hierarchy, records, previous)
        if decisions:
            out.print(f"kept {len(decisions):,} manual decisions")
        if local.runner.settings.categorize_llm_second_opinion:
            records = llm_second_opinion(local.runner, hierarchy, records, texts, out)
    write_categorized(CATEGORIZED_PROMPTS.path(out_dir), records)
    out.print(render_categorize_screen(records, len(prompts), review_below))
    return records


def coverage_dir(
    out_dir: Path,
    dataset: str,
    out: Console,
    targets: dict[str, int] | None = None,
    total_target: int | None = None,
) -> CoverageReport:
    hierarchy = read_hierarchy(out_dir, dataset)
    path = CATEGORIZED_PROMPTS.path(out_dir)
    if not path.is_file():
        raise typer.BadParameter(
            f"{out_dir} holds no {CATEGORIZED_PROMPTS.name}: run `rft categorize` first")
    report = compute_coverage(
        hierarchy, read_categorized(path), targets, total_target,
        CategorizerSettings().coverage_highlight_below,
    )
    COVERAGE.path(out_dir).write_text(report.model_dump_json(indent=2) + "\n", "utf-8")
    COVERAGE_CHART.path(out_dir).write_bytes(coverage_png(report))
    out.print(render_coverage_chart(report, level=1), highlight=False)
    if any(r.level > 1 for r in report.topics):
        out.print(render_coverage_chart(report, level=2), highlight=False)
    difficulty = render_difficulty(report)
    if difficulty is not None:
        out.print(difficulty, highlight=False)
    return report


def show_hierarchy(hierarchy: TopicHierarchy, out: Console) -> None:
    tree = Tree(f"[bold]{hierarchy.dataset}[/bold] topics, version {hierarchy.version} "
                f"({hierarchy.source.value})")

    def walk(node: Tree, topics: list) -> None:  # type: ignore[type-arg]
        for topic in topics:
            label = f"[bold]{topic.name}[/bold]"
            if topic.description:
                label += f": {topic.description}"
            if topic.examples:
                label += f" [dim]({len(topic.examples)} examples)[/dim]"
            walk(node.add(label), topic.children)

    walk(tree, hierarchy.topics)
    out.print(tree)


# ---- the journey's steps ----------------------------------------------------------------------

def topics_step(context: JourneyContext) -> None:
    """Step B: a hand-written hierarchy (``rft run --topics FILE``) or discovered topics."""
    topics_file = context.results.get("topics_file")
    if topics_file is not None:
        path = Path(topics_file)
        try:
            hierarchy = parse_hierarchy_file(path.read_text("utf-8"), context.dataset)
        except HierarchyFileError as error:
            raise typer.BadParameter(f"{path}: {error}") from None
        context.console.print(f"using the topics of {path}")
    else:
        prompts = _read_sanitized(context.out_dir, context.dataset)
        with local_topics(context.settings) as local:
            hierarchy = discover_hierarchy(local, context.dataset, prompts, True, context.console)
    written = write_hierarchy(context.out_dir, hierarchy)
    show_hierarchy(hierarchy, context.console)
    context.results["topics"] = hierarchy
    context.artifacts[TOPIC_HIERARCHY.name] = written


def categorize_step(context: JourneyContext) -> None:
    """Step C: categorized_prompts.jsonl from the sanitized prompts and the hierarchy."""
    records = categorize_dir(context.out_dir, context.dataset, context.settings, context.console)
    context.results["categorize"] = records
    context.artifacts.update(paths(context.out_dir, CATEGORIZED_PROMPTS))


def coverage_step(context: JourneyContext) -> None:
    """Step D: coverage.json and coverage.png, and the chart on the terminal."""
    report = coverage_dir(context.out_dir, context.dataset, context.console)
    context.results["coverage"] = report
    context.artifacts.update(paths(context.out_dir, COVERAGE, COVERAGE_CHART))


# ---- commands -------------------------------------------------------------------------------

OutOption = Annotated[Path, typer.Option("--out", help="the run's directory")]
DatasetOption = Annotated[str | None, typer.Option(help="dataset name (default: out dir's)")]


def _dataset(out: Path, dataset: str | None) -> str:
    return dataset or out.resolve().name


@topics_app.command("discover")
def discover_command(
    out: OutOption = Path("out"),
    dataset: DatasetOption = None,
    llm: Annotated[bool, typer.Option(help="name topics with the LLM (else keywords)")] = True,
    min_topics: Annotated[int | None, typer.Option(
        min=2, help="at least this many leaf topics, when you know there are so many "
        "(else the number is chosen from the data alone)")] = None,
) -> None:
    """Cluster the sanitized prompts into named topics and subtopics: topic_hierarchy.json."""
    name = _dataset(out, dataset)
    prompts = _read_sanitized(out, name)
    with local_topics(RuntimeSettings()) as local:
        hierarchy = discover_hierarchy(local, name, prompts, llm, console, min_topics)
    write_hierarchy(out, hierarchy)
    show_hierarchy(hierarchy, console)


@topics_app.command("template")
def template_command(
    name: Annotated[str | None, typer.Argument(help="template name; none lists them")] = None,
    out: OutOption = Path("out"),
    dataset: DatasetOption = None,
) -> None:
    """Start from an industry template (customer support, coding agent, ...)."""
    if name is None:
        table = Table("template", "description")
        for template in template_names():
            table.add_row(template, template_description(template))
        console.print(table)
        return
    try:
        hierarchy = load_template(name, _dataset(out, dataset))
    except KeyError as error:
        raise typer.BadParameter(str(error.args[0])) from None
    out.mkdir(parents=True, exist_ok=True)
    write_hierarchy(out, hierarchy)
    show_hierarchy(hierarchy, console)


@topics_app.command("load")
def load_command(
    file: Annotated[Path, typer.Argument(help="a hand-written topic_hierarchy.json")],
    out: OutOption = Path("out"),
    dataset: DatasetOption = None,
) -> None:
    """Use a hierarchy written by hand (names, descriptions, example prompts)."""
    if not file.is_file():
        raise typer.BadParameter(f"no such file: {file}")
    try:
        hierarchy = parse_hierarchy_file(file.read_text("utf-8"), _dataset(out, dataset))
    except HierarchyFileError as error:
        raise typer.BadParameter(f"{file}: {error}") from None
    out.mkdir(parents=True, exist_ok=True)
    write_hierarchy(out, hierarchy)
    show_hierarchy(hierarchy, console)


@topics_app.command("show")
def show_command(out: OutOption = Path("out"), dataset: DatasetOption = None) -> None:
    """Print the hierarchy as a tree."""
    show_hierarchy(read_hierarchy(out, _dataset(out, dataset)), console)


def _path(text: str | None) -> list[str]:
    return [part for part in (text or "").split("/") if part]


# The command's option for each argument an edit may lack.
_EDIT_OPTION = {"name": "--name", "new_parent": "--to", "order": "--order"}


@topics_app.command("edit")
def edit_command(
    op: Annotated[str, typer.Argument(help="add, rename, describe, move, delete or reorder")],
    path: Annotated[str, typer.Argument(help="the topic as a/b (add, reorder: the parent; "
                                            "'' for the top level)")],
    out: OutOption = Path("out"),
    dataset: DatasetOption = None,
    name: Annotated[str | None, typer.Option(help="add: new topic; rename: new name")] = None,
    description: Annotated[str | None, typer.Option(help="add, describe")] = None,
    example: Annotated[list[str] | None, typer.Option(help="an example prompt (repeat)")] = None,
    to: Annotated[str | None, typer.Option(help="move: the new parent a/b ('' = top)")] = None,
    position: Annotated[int | None, typer.Option(help="add, move: index among siblings")] = None,
    order: Annotated[str | None, typer.Option(help="reorder: child names, comma separated")] = None,
    keep_children: Annotated[bool, typer.Option(help="delete: children move up")] = False,
) -> None:
    """Edit the hierarchy; every edit writes a new version. Run `rft categorize` afterwards:
    it re-uses the stored vectors, so no prompt is embedded again."""
    current = read_hierarchy(out, _dataset(out, dataset))
    try:
        edited = apply_edit(
            current, op, _path(path), name=name, description=description, examples=example,
            new_parent=None if to is None else _path(to), position=position,
            order=[n.strip() for n in order.split(",")] if order else None,
            keep_children=keep_children,
        )
    except HierarchyEditError as error:
        raise typer.BadParameter(f"{error.reason}: {error.detail}") from None
    except MissingEditArgument as error:
        raise typer.BadParameter(f"{error.op} needs {_EDIT_OPTION[error.argument]}") from None
    except ValueError as error:  # an unknown op
        raise typer.BadParameter(str(error)) from None
    write_hierarchy(out, edited)
    show_hierarchy(edited, console)


def categorize(out: OutOption = Path("out"), dataset: DatasetOption = None) -> None:
    """Step C: a leaf topic, a calibrated confidence and a runner-up for every prompt."""
    categorize_dir(out, _dataset(out, dataset), RuntimeSettings(), console)


def _targets(values: list[str] | None) -> dict[str, int] | None:
    if not values:
        return None
    targets: dict[str, int] = {}
    for value in values:
        key, _, number = value.rpartition("=")
        if not key or not number.isdigit():
            raise typer.BadParameter(f"--target takes topic/path=COUNT, got {value!r}")
        targets[key] = int(number)
    return targets


def coverage(
    out: OutOption = Path("out"),
    dataset: DatasetOption = None,
    target: Annotated[list[str] | None, typer.Option(help="topic/path=COUNT (repeat)")] = None,
    total: Annotated[int | None, typer.Option(help="grow the dataset to this size")] = None,
) -> None:
    """Step D: records per topic, gaps to target, what to generate: coverage.json and .png."""
    coverage_dir(out, _dataset(out, dataset), console, _targets(target), total)


def review(
    out: OutOption = Path("out"),
    dataset: DatasetOption = None,
    limit: Annotated[int, typer.Option(min=1)] = 20,
    prompt: Annotated[str | None, typer.Option("--set", help="prompt id to decide")] = None,
    topic: Annotated[str | None, typer.Option(help="with --set: the topic a/b")] = None,
) -> None:
    """List the prompts that need a person (confidence under RFT_CATEGORIZE_REVIEW_BELOW, 0.5
    by default), or set one's topic by hand."""
    path = CATEGORIZED_PROMPTS.path(out)
    if not path.is_file():
        raise typer.BadParameter(
            f"{out} holds no {CATEGORIZED_PROMPTS.name}: run `rft categorize` first")
    records = read_categorized(path)
    if prompt is not None:
        if not topic:
            raise typer.BadParameter("--set needs --topic")
        hierarchy = read_hierarchy(out, _dataset(out, dataset))
        chosen = _path(topic)
        try:
            check_manual_topic(hierarchy, chosen)
        except HierarchyEditError:
            raise typer.BadParameter(f"no topic {topic}") from None
        except ValueError as error:  # a topic with subtopics
            raise typer.BadParameter(str(error)) from None
        if not any(r.prompt.id == prompt for r in records):
            raise typer.BadParameter(f"no prompt {prompt} in {path}")
        records = [decide_topic(r, hierarchy, chosen) if r.prompt.id == prompt else r
                   for r in records]
        write_categorized(path, records)
        # Qdrant's payload too: coverage facets over it. The collection is opened as it was
        # made, so no embedding model is loaded to write one payload.
        _write_topics_to_store(hierarchy.dataset, [r for r in records if r.prompt.id == prompt])
        console.print(f"{prompt}: {topic} (manual, confidence 1)")
        return
    queue = review_queue(records)
    table = Table("prompt", "topic", "confidence", "runner-up", "request", show_lines=True)
    for record in queue[:limit]:
        users = [m.text() for m in record.prompt.messages if m.role == "user"]
        table.add_row(
            record.prompt.id, "/".join(record.topic_path), f"{record.confidence:.2f}",
            "/".join(record.runner_up or []), (users[-1] if users else "")[:160],
        )
    console.print(table)
    console.print(f"{len(queue):,} prompts need review; set one with "
                  f"rft review --out {out} --set PROMPT_ID --topic a/b")


def register(app: typer.Typer) -> None:
    """Add `rft topics ...`, `rft categorize`, `rft coverage` and `rft review` to ``app``."""
    app.add_typer(topics_app, name="topics")
    app.command("categorize")(categorize)
    app.command("coverage")(coverage)
    app.command("review")(review)


