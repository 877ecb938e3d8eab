"""The console in a real headless Chromium: steps A-G through the console's own controls on
the sample data, a screenshot of each screen, no error in the browser console, and the forms
driven by the keyboard alone where it matters (the topic edit, the coverage target)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.categorizer_service.fixtures import DRONE_TOPICS
from tests.console.conftest import DATASET, ConsoleErrors

DRONE = Path(__file__).resolve().parents[2] / "examples" / "data" / "drone_training.jsonl"


async def shot(page: Any, artifacts: Path, name: str) -> None:
    await page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def hostile_traces(path: Path) -> Path:
    """Records a trace system may well export: markup and terminal escapes in the text, one
    line that is not JSON (its raw ESC byte kept), one without a user turn, a duplicate."""
    drone_line = DRONE.read_text().splitlines()[0]
    lines = [
        "{not json <script>window.__pwned = 1</script> \x1b[31mred\x1b[0m",
        json.dumps({"messages": [{"role": "assistant", "content":
            '<img src=x onerror="window.__pwned = 2"><script>window.__pwned = 3</script>'
            "\x1b]8;;http://evil\x07link"}]}),
        drone_line,
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_steps_a_to_g_in_the_browser(
    page: tuple[Any, ConsoleErrors], console_url: str, artifacts: Path, tmp_path: Path
) -> None:
    tab, errors = page
    from playwright.async_api import expect

    # Home: the journey's steps for the dataset.
    await tab.goto(f"{console_url}/")
    await expect(tab.get_by_role("heading", name="The journey")).to_be_visible()
    await shot(tab, artifacts, "0-home")

    # A: upload the sample traces; the report counts them and breaks rejections down by reason.
    await tab.get_by_role("link", name="A · Sanitize").first.click()
    await expect(tab.get_by_text("No traces sanitized")).to_be_visible()
    await tab.get_by_label(re.compile("Trace file")).set_input_files(str(DRONE))
    await tab.get_by_role("button", name="Upload and sanitize").click()
    await expect(tab.get_by_text("Uploaded drone_training.jsonl")).to_be_visible()
    report = tab.locator("table.report")
    await expect(report).to_contain_text("Input: 103 raw traces")
    await expect(report.locator("tr.ok")).to_contain_text("Valid structure")
    # A second upload with hostile records: rejected by reason, shown as text, never run.
    await tab.get_by_label(re.compile("Trace file")).set_input_files(
        str(hostile_traces(tmp_path / "hostile.jsonl"))
    )
    await tab.get_by_role("button", name="Upload and sanitize").click()
    await expect(tab.get_by_text("Uploaded hostile.jsonl: 3 records in")).to_be_visible()
    await expect(report).to_contain_text("Input: 106 raw traces")
    reasons = await report.locator("tr.bad th").all_inner_texts()
    assert {"✗ invalid_json", "✗ duplicate"} <= set(reasons), reasons
    await report.get_by_role("row", name=re.compile("invalid_json")).get_by_role(
        "button", name="View rejected").click()
    rejected = tab.locator("#rejected")
    await expect(rejected.get_by_role("heading", name="Rejected records: invalid_json"))\
        .to_be_visible()
    excerpt = await rejected.locator("pre.excerpt").first.inner_text()
    assert "<script>window.__pwned = 1</script>" in excerpt  # shown, as text
    assert "\\x1b[31mred" in excerpt and "\x1b" not in excerpt  # the escape made visible
    await tab.get_by_role("button", name="View all rejected").click()
    await expect(rejected.get_by_role("heading", name="Rejected records")).to_be_visible()
    await expect(rejected).to_contain_text('<img src=x onerror=')
    assert await rejected.locator("script, img").count() == 0
    assert await tab.evaluate("window.__pwned") is None
    await shot(tab, artifacts, "A-sanitize")

    # B: a hand-written hierarchy, then edits: add (keyboard only), rename, describe, move,
    # delete; each is a new version.
    await tab.get_by_role("link", name="Next: topics →").click()
    await expect(tab.get_by_text("No topic hierarchy")).to_be_visible()
    await tab.get_by_label("topic_hierarchy.json").fill(json.dumps(DRONE_TOPICS))
    await tab.get_by_role("button", name="Save hierarchy").click()
    note = tab.get_by_text(re.compile(r"Your hierarchy: version 1"))
    await expect(note).to_be_visible()
    categorized = int(re.findall(r"(\d+) prompts categorized", await note.inner_text())[0])
    assert categorized > 50, await note.inner_text()
    tree = tab.get_by_role("list", name="Topic tree")
    await expect(tree).to_contain_text("takeoff_and_landing")

    # Add by keyboard: the first option of Action is "add", top level is the default topic.
    await tab.get_by_label("Action").focus()
    await tab.keyboard.press("Tab")  # Topic (parent): top level
    await tab.keyboard.press("Tab")
    await tab.keyboard.type("flight_modes")
    await tab.keyboard.press("Tab")
    await tab.keyboard.type("autopilot, follow me, obstacle avoidance")
    await tab.keyboard.press("Tab")
    await tab.keyboard.type("Turn on the autopilot\nActivate the follow me mode")
    await tab.keyboard.press("Tab")  # New parent
    await tab.keyboard.press("Tab")  # Apply
    await tab.keyboard.press("Enter")
    await expect(tab.get_by_text(re.compile(r"Add done: version 2"))).to_be_visible()
    await expect(tree).to_contain_text("flight_modes")

    async def edit(op: str, topic: str, **fields: str) -> None:
        await tab.get_by_label("Action").select_option(op)
        await tab.get_by_label("Topic (for add: its parent)").select_option(topic)
        if "name" in fields:
            await tab.get_by_label("Name (add, rename)").fill(fields["name"])
        if "description" in fields:
            await tab.get_by_label("Description (add, describe)").fill(fields["description"])
        if "parent" in fields:
            await tab.get_by_label("New parent (move)").select_option(fields["parent"])
        await tab.get_by_role("button", name="Apply").click()

    await edit("rename", "flight_modes", name="autonomy")
    await expect(tab.get_by_text(re.compile(r"Rename done: version 3"))).to_be_visible()
    await edit("describe", "autonomy", description="autopilot and follow-me modes")
    await expect(tab.get_by_text(re.compile(r"Describe done: version 4"))).to_be_visible()
    await expect(tree).to_contain_text("autopilot and follow-me modes")
    await edit("move", "autonomy", parent="flight")
    await expect(tab.get_by_text(re.compile(r"Move done: version 5"))).to_be_visible()
    await edit("delete", "flight/autonomy")
    await expect(tab.get_by_text(re.compile(r"Delete done: version 6"))).to_be_visible()
    await expect(tree).not_to_contain_text("autonomy")
    # An earlier version, read only.
    await tab.get_by_label("Version").select_option("2")
    await tab.get_by_role("button", name="View").click()
    await expect(tab.get_by_text("an earlier version, read only")).to_be_visible()
    await expect(tab.get_by_role("list", name="Topic tree")).to_contain_text("flight_modes")
    await shot(tab, artifacts, "B-topics")

    # C: the review queue; accept one, reassign another.
    await tab.goto(f"{console_url}/d/{DATASET}/review")
    rows = tab.locator("table.review tbody tr")
    queued = await rows.count()
    assert queued >= 2, "the drone prompts leave some for review against DRONE_TOPICS"
    await rows.nth(0).get_by_role("button", name="Accept").click()
    await expect(rows.nth(0)).to_contain_text("✓ manual")
    await rows.nth(1).get_by_label("Reassign to").select_option("camera")
    await rows.nth(1).get_by_role("button", name="Reassign").click()
    await expect(rows.nth(1)).to_contain_text("✓ manual: camera")
    await shot(tab, artifacts, "C-review")
    await tab.reload()
    assert await tab.locator("table.review tbody tr").count() == queued - 2

    # D: coverage, with the chart drawn by Chart.js, and a total target set by keyboard.
    await tab.get_by_role("link", name="Next: coverage →").click()
    await expect(tab.locator("table.coverage")).to_contain_text("flight/movement")
    await expect(tab.locator("#coverage-chart[data-drawn='1']")).to_have_count(1)
    labels = await tab.evaluate(
        "document.getElementById('coverage-chart')._chart.data.labels"
    )
    assert {"flight/movement", "camera", "lights", "other"} <= set(labels)  # every leaf
    await tab.get_by_label("Total target").focus()
    await tab.keyboard.type("400")
    await tab.keyboard.press("Enter")
    await expect(tab).to_have_url(re.compile(r"total_target=400"))
    await expect(tab.locator("table.coverage tr.gap").first).to_be_visible()
    await shot(tab, artifacts, "D-coverage")

    # E: one new prompt for one topic, written by the local model and validated; the job's
    # progress per topic arrives by its event stream while the page stays put.
    await tab.get_by_role("link", name="E · Generate").click()
    targets = tab.locator("input[name^='target:']")
    for index in range(await targets.count()):
        await targets.nth(index).fill("0")
    await tab.locator("input[name='target:camera']").fill("1")
    await tab.get_by_label("Max tokens per prompt").fill("48")
    await tab.get_by_label("Candidates per request").fill("2")
    await tab.get_by_role("button", name="Generate").click()
    await expect(tab).to_have_url(re.compile(r"/generate/[^/]+$"))
    job_page = tab.url
    await expect(tab.locator("#generation[data-finished='1']")).to_have_count(1, timeout=180_000)
    assert tab.url == job_page  # updated in place, not reloaded
    await expect(tab.locator("#generation-status")).to_have_text("succeeded")
    await expect(tab.get_by_role("heading", name="camera")).to_be_visible()
    await shot(tab, artifacts, "E-generate")

    # F: split the categorized prompts; the distribution before and after, train/valid.
    await tab.get_by_role("link", name="F · Split").click()
    await expect(tab.get_by_text("No split of")).to_be_visible()
    await tab.get_by_label("Valid fraction").fill("0.2")
    await tab.get_by_role("button", name="Split").click()
    await expect(tab.get_by_text(re.compile(r"Split: \d+ train / \d+ valid rows"))).to_be_visible()
    await expect(tab.locator("table.split")).to_contain_text("flight/movement")
    await expect(tab.locator("#split-chart[data-drawn='1']")).to_have_count(1)
    await shot(tab, artifacts, "F-split")

    # G: the preset the grader chose for the split's rows, validated, previewed on real rows
    # (their reference answers), red-teamed; a broken edit is answered with its issue.
    await tab.get_by_role("link", name="G · Grader").click()
    await expect(tab.get_by_text(re.compile("Preset for these rows: tool_usage"))).to_be_visible()
    editor = tab.get_by_label("Grader (OpenAI grader JSON)")
    await tab.get_by_role("button", name="Validate").click()
    await expect(tab.locator("#grader-outcome")).to_contain_text("✓ Valid")
    await tab.get_by_role("button", name="Preview on real rows").click()
    await expect(tab.locator("table.preview tbody tr")).to_have_count(3, timeout=60_000)
    await tab.get_by_role("button", name="Red team").click()
    await expect(tab.locator("table.red-team tbody tr").first).to_be_visible(timeout=60_000)
    await shot(tab, artifacts, "G-grader")
    original = await editor.input_value()
    await editor.fill(json.dumps({"type": "string_check", "name": "g", "operation": "eq",
                                  "input": "{{sample.output_text}}",
                                  "reference": "{{item.no_such_field}}"}))
    await tab.get_by_role("button", name="Validate").click()
    await expect(tab.locator("#grader-outcome")).to_contain_text("no_such_field")
    assert original

    assert errors.messages == []


async def test_step_h_dry_run_in_the_browser(
    page: tuple[Any, ConsoleErrors], dry_run_console_url: str, split_dataset: str,
    artifacts: Path,
) -> None:
    """On a split made through the services' APIs: the base model (the local SmolLM2) answers
    one prompt twice, the preset grader scores them, and the report shows histogram and
    verdict."""
    tab, errors = page
    from playwright.async_api import expect

    await tab.goto(f"{dry_run_console_url}/d/{split_dataset}/dryrun")
    await tab.get_by_label("Prompts (N)").fill("1")
    await tab.get_by_label("Max tokens per answer").fill("8")
    await tab.get_by_label("Tool choice").select_option("required")
    await tab.get_by_role("button", name="Run dry run").click()
    # The progress, then the report, arrive by the dry run's event stream.
    await expect(tab.locator("#dry-run[data-finished='1']")).to_have_count(1, timeout=120_000)
    await expect(tab.locator(".verdict")).to_contain_text(re.compile("GO|NO-GO"))
    await expect(tab.locator("#histogram-chart[data-drawn='1']")).to_have_count(1)
    await expect(tab.locator("table.samples tbody tr")).to_have_count(2)
    await shot(tab, artifacts, "H-dry-run")
    assert errors.messages == []


async def test_the_journey_runs_f_to_h_from_the_console_and_is_followed_live(
    page: tuple[Any, ConsoleErrors], journey_console_url: str, split_dataset: str,
    artifacts: Path,
) -> None:
    """On categorized prompts with a hierarchy: the gateway's journey until H, started from its
    form; each step's status arrives by the journey's event stream while the page stays put."""
    tab, errors = page
    from playwright.async_api import expect

    await tab.goto(f"{journey_console_url}/?dataset={split_dataset}")
    await tab.get_by_role("link", name="F→J in one run: the journey →").click()
    await expect(tab.get_by_text("No journey of")).to_be_visible()
    await tab.get_by_label("Until").select_option("H")
    await tab.get_by_label("Tool choice").select_option("required")
    await tab.get_by_role("button", name="Run the journey →").click()
    await expect(tab.locator("#journey[data-finished='1']")).to_have_count(1, timeout=300_000)
    await expect(tab.locator("#journey-status")).to_have_text("done")
    for step in "FGH":
        await expect(tab.locator(f"#journey-{step} td").first).to_have_text("done")
    dry_run = re.compile(r"2 / 2 rollouts: (GO|NO-GO)")  # 1 prompt x 2: the grader's size
    await expect(tab.locator("#journey-H")).to_contain_text(dry_run)
    await expect(tab.locator("#journey-I td").first).to_have_text("pending")  # until H
    await shot(tab, artifacts, "journey")
    await tab.locator("#journey-H a").click()  # the dry run's own screen, from the journey
    await expect(tab.locator(".verdict")).to_contain_text(re.compile("GO|NO-GO"))
    assert errors.messages == []


async def test_steps_i_and_j_train_the_real_model_from_the_console(
    page: tuple[Any, ConsoleErrors], real_training_console_url: str, split_dataset: str,
    artifacts: Path,
) -> None:
    """On a split made through the services' APIs: the training form starts from the gateway's
    CPU budget, is set to a tiny one (one step of one prompt x 2 answers of 8 tokens), trains
    the real SmolLM2, follows the job live to its end, and opens its results."""
    tab, errors = page
    from playwright.async_api import expect

    await tab.goto(f"{real_training_console_url}/d/{split_dataset}/train?device=cpu")
    await expect(tab.get_by_text(re.compile("budget for CPU: CPU budget"))).to_be_visible()
    assert await tab.get_by_label("Max steps").input_value() == "40"  # the gateway's, shown
    for label, value in (("Max steps", "1"), ("Prompts per step", "1"),
                         ("Samples per prompt", "2"), ("Max answer tokens", "8"),
                         ("Valid reward every (steps)", "1"), ("Valid prompts", "1"),
                         ("Prompts compared in J", "1")):
        await tab.get_by_label(label, exact=True).fill(value)
    await tab.get_by_label("Tool choice").select_option("required")
    await tab.get_by_role("button", name="Train →").click()
    await expect(tab).to_have_url(re.compile(r"/train/ftjob-"))
    await expect(tab.locator("#job-status")).to_have_text("succeeded", timeout=600_000)
    await expect(tab.locator("#job-step")).to_have_text("1")
    await expect(tab.locator("#job-total")).to_have_text("1")
    await shot(tab, artifacts, "I-train-real")
    await tab.get_by_role("link", name="Results →").click()
    await expect(tab.get_by_role("heading", name=re.compile("J · Results"))).to_be_visible()
    await shot(tab, artifacts, "J-results-real")
    assert errors.messages == []
