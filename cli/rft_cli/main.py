"""The `rft` command: the whole journey on one machine, and the local streaming stack."""

from __future__ import annotations

import asyncio
import shlex
import signal
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rft_cli import generate_commands, grader_commands, stack, topics_commands, train_commands
from rft_cli import submit as submitting
from rft_cli.journey import run_journey
from rft_cli.journey_context import JourneyContext
from rft_cli.steps import sanitize_step
from rft_cli.terminal import fail, inert, inert_text
from rft_runtime.settings import RuntimeSettings
from rft_sanitizer import UnreadableRejected, list_rejected
from rft_schemas.artifacts import REJECTED, TOPIC_HIERARCHY
from rft_schemas.traces import RejectionReason

app = typer.Typer(
    help="Turn agent traces into RFT datasets, check them, train and ship.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

STEP_LETTERS = "ABCDEFGHIJ"


@app.command()
def run(
    inputs: Annotated[list[Path], typer.Argument(help="trace files: JSONL, JSON array or object")],
    out: Annotated[Path, typer.Option("--out", help="directory for every artifact")] = Path(
        "out"
    ),
    dataset: Annotated[str | None, typer.Option(help="dataset name (default: out dir's)")] = None,
    until: Annotated[str, typer.Option(help="stop after this step (A to J)")] = "J",
    topics: Annotated[
        Path | None,
        typer.Option(help="a hand-written topic_hierarchy.json to use instead of discovery"),
    ] = None,
) -> None:
    """Run every built journey step on INPUTS, in one process, on the embedded defaults."""
    until = until.upper()
    if len(until) != 1 or until not in STEP_LETTERS:
        raise typer.BadParameter("--until takes one step letter, A to J")
    _check_inputs(inputs)
    _writable_dir(out, "--out")
    context = _context(inputs, out, dataset)
    _writable_dir(context.settings.data_dir, "the data dir (RFT_DATA_DIR)")
    if topics is not None:
        if not topics.is_file():
            raise typer.BadParameter(f"no such topics file: {topics}")
        context.results["topics_file"] = topics
    ran = run_journey(context, until)
    table = Table(title=f"Outputs of steps {', '.join(ran)}", show_header=False)
    for name, path in context.artifacts.items():
        table.add_row(name, str(path))
    console.print(table)
    console.print(inert_text(browse_hint(inputs, context.dataset, out, until)), soft_wrap=True)


def browse_hint(inputs: list[Path], dataset: str, out: Path, until: str) -> str:
    """How to see this journey in the web console: the services run it again on the same
    traces and the run's own topics, and the console shows what their stores hold."""
    files = " ".join(shlex.quote(str(p)) for p in inputs)
    topics = TOPIC_HIERARCHY.path(out)
    stop = "D" if until <= "E" else "H" if until <= "H" else "J"  # the stops submit has
    return (
        "To see this journey in the web console: `rft up` (it prints the console's URL), then "
        f"`rft submit {files} --dataset {shlex.quote(dataset)}"
        + (f" --topics {shlex.quote(str(topics))}" if topics.is_file() else "")
        + f" --until {stop}`: the services run the steps on the same traces"
        + (" and this run's topics" if topics.is_file() else "") + "."
    )


@app.command()
def sanitize(
    inputs: Annotated[list[Path], typer.Argument(help="trace files: JSONL, JSON array or object")],
    out: Annotated[Path, typer.Option("--out", help="directory for the step's files")] = Path(
        "out"
    ),
    dataset: Annotated[str | None, typer.Option(help="dataset name (default: out dir's)")] = None,
) -> None:
    """Step A alone: sanitized_prompts.jsonl, rejected.jsonl and sanitize_report.json in OUT."""
    _check_inputs(inputs)
    _writable_dir(out, "--out")
    context = _context(inputs, out, dataset)
    _writable_dir(context.settings.data_dir, "the data dir (RFT_DATA_DIR)")
    sanitize_step(context)


@app.command()
def rejected(
    directory: Annotated[Path, typer.Argument(help="the --out directory of a sanitize run")],
    reason: Annotated[str | None, typer.Option(help="only this reason code")] = None,
    limit: Annotated[int, typer.Option(min=1, help="records per page")] = 20,
    cursor: Annotated[str | None, typer.Option(help="the cursor a previous page printed")] = None,
) -> None:
    """Show rejected records: the reason, where the record was, why, and its start."""
    if not REJECTED.path(directory).is_file():
        raise typer.BadParameter(f"{directory} holds no {REJECTED.name}: run `rft sanitize` first")
    known = {r.value for r in RejectionReason}
    if reason is not None and reason not in known:
        raise typer.BadParameter(f"unknown reason {reason!r}; one of: {', '.join(sorted(known))}")
    try:
        page = list_rejected(directory, reason, limit, cursor)
    except UnreadableRejected as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot read {REJECTED.path(directory)}: {error.strerror or error}")
    table = Table("reason", "where", "detail", "excerpt", show_lines=True)
    # A rejected record is what a client sent: its text is shown, its escapes never obeyed.
    for item in page.items:
        where = item.source.describe() + (f" {item.path}" if item.path else "")
        table.add_row(
            item.reason.value, inert_text(where), inert_text(item.detail),
            inert_text(item.excerpt[:200]),
        )
    console.print(table)
    if not page.items:
        console.print("no rejected records" + (f" with reason {reason}" if reason else ""))
    if page.next_cursor is not None:
        more = f" --reason {reason}" if reason else ""
        console.print(
            inert_text(f"next page: rft rejected {directory}{more} --cursor {page.next_cursor}")
        )


@app.command()
def up() -> None:
    """Start the local streaming stack: the broker, the local LLM and every service, under a
    supervisor that restarts any of them that exits, until `rft down`."""
    settings = RuntimeSettings()
    _writable_dir(settings.data_dir, "the data dir (RFT_DATA_DIR)")
    try:
        with console.status("starting the broker and services..."):
            processes = stack.up(settings)
    except stack.StackError as error:
        fail(str(error))
    table = Table("process", "pid", "port", "log")
    for p in processes:
        table.add_row(p.name, str(p.pid), str(p.port), p.log)
    console.print(table)
    broker = next((p for p in processes if p.name == "broker"), None)
    if broker:
        console.print(f"RFT_KAFKA_BOOTSTRAP=127.0.0.1:{broker.port}")
    web = next((p for p in processes if p.name == "console"), None)
    if web:
        console.print(f"console: open http://127.0.0.1:{web.port}/ in a browser")
    supervisor = stack.read_stack(settings)
    if supervisor is not None and supervisor.supervisor is not None:
        console.print(inert_text(
            f"supervised by pid {supervisor.supervisor.pid}: a process that exits is started "
            f"again (log: {supervisor.supervisor.log})"), soft_wrap=True)


@app.command()
def submit(
    inputs: Annotated[list[Path], typer.Argument(help="trace files: JSONL, JSON array or object")],
    dataset: Annotated[str, typer.Option(help="the dataset the traces join")],
    until: Annotated[str, typer.Option(help="stop after D, H or J")] = "J",
    topics: Annotated[Path | None, typer.Option(
        help="a topic_hierarchy.json (e.g. an `rft run`'s) instead of discovery")] = None,
    wait: Annotated[float, typer.Option(
        min=1, help="seconds to wait for the stream to embed and categorize")] = 1800,
) -> None:
    """Run the journey through the services of the stack `rft up` started, so the web console
    shows every step: traces to the sanitizer, topics in the categorizer, F to J by the
    trainer gateway."""
    until = until.upper()
    if until not in ("D", "H", "J"):
        raise typer.BadParameter("--until takes D, H or J")
    _check_inputs(inputs)
    if topics is not None and not topics.is_file():
        raise typer.BadParameter(f"no such topics file: {topics}")
    settings = RuntimeSettings()
    try:
        running = submitting.Stack.running(settings)
        final = asyncio.run(submitting.submit(settings, inputs, dataset, until, topics, wait,
                                              _say))
    except submitting.SubmitError as error:
        fail(str(error))
    console.print(submitting.console_hint(running.console_url, dataset), soft_wrap=True)
    if final is not None and final.status.value == "failed":
        raise typer.Exit(1)


def _say(line: str) -> None:
    console.print(inert_text(line), soft_wrap=True)  # a line a user may copy stays one line


@app.command()
def down() -> None:
    """Stop the local streaming stack started by `rft up`."""
    stopped = stack.down(RuntimeSettings())
    console.print(f"stopped {len(stopped)} processes" if stopped else "nothing was running")


generate_commands.register(app)
grader_commands.register(app)
topics_commands.register(app)
train_commands.register(app)


def _check_inputs(inputs: list[Path]) -> None:
    # A directory or a FIFO is not a file of traces (a FIFO would block the read, or be read
    # once and lost to the retry): named as what it is.
    missing = [
        str(p) + (" (a directory)" if p.is_dir() else "" if not p.exists() else " (not a file)")
        for p in inputs
        if not p.is_file()
    ]
    if missing:
        fail(f"no such input file: {', '.join(missing)}")


def _writable_dir(path: Path, what: str) -> None:
    """Make sure ``path`` is a directory this process can write, created if need be, or fail
    in one line naming ``what`` it is."""
    if path.exists() and not path.is_dir():
        fail(f"{what} {path} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"{what} {path} cannot be created: {error.strerror or error}")
    # Root ignores permission bits and a read-only mount refuses everyone: only a write tells.
    try:
        with tempfile.TemporaryFile(dir=path, prefix=".rft-write-check-"):
            pass
    except OSError as error:
        fail(f"{what} {path} is not writable: {error.strerror or error}")


def _context(inputs: list[Path], out: Path, dataset: str | None) -> JourneyContext:
    return JourneyContext(
        inputs=list(inputs),
        out_dir=out,
        dataset=dataset or out.resolve().name,
        settings=RuntimeSettings(),
        console=console,
    )


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # Unwinding runs the `finally` blocks that stop the local LLM server this run started
    # (it lives in its own session, so nothing else would stop it).
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        app()
    except OSError as error:
        # A path the user named that cannot be read or written (a full disk, a read-only
        # mount, a file where a directory should be) in a command that did not check first:
        # one line, as for the paths the commands do check, not a traceback.
        where = f"{error.filename}: " if error.filename is not None else ""
        typer.echo(f"Error: {inert(where + (error.strerror or str(error)))}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
