"""A small dry run on real prompts against the real local model, through `rft dryrun` and
through the journey step `rft run` will call."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from rft_cli.grader_commands import dry_run_step, grader_step, register
from rft_cli.journey_context import JourneyContext
from rft_generator.split import SplitItem
from rft_generator.split_export import rft_record
from rft_grader import build_grader
from rft_grader.dryrun import load_prompts
from rft_grader.presets import build_preset, grader_config_json
from rft_grader.red_team import reference_sample
from rft_runtime.settings import RuntimeSettings
from rft_schemas.traces import SanitizedPrompt
from tests.dryrun.verdict_rules import assert_verdict_follows_the_table


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """The registered sub-commands, as the main `rft` app will carry them."""

    register(app)
    return app


@pytest.fixture
def llm_env(local_llm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RFT_LLM_BASE_URL", local_llm.base_url)
    monkeypatch.setenv("RFT_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "200")


def test_dryrun_command_rolls_out_scores_reports_and_prunes(llm_env, sanitized_prompts, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli(), [
        "dryrun", str(sanitized_prompts), "--out", str(out), "-n", "6", "-k", "2",
        "--max-tokens", "8", "--prune"])
    assert result.exit_code == 0, result.output
    assert "Dry Run Validation" in result.output
    assert "Tested: 12 samples (6 prompts x 2)" in result.output
    assert "the tool_usage preset" in result.output, "prompts carry tools"
    report = json.loads((out / "dry_run_report.json").read_text())
    assert_verdict_follows_the_table(report)
    assert f"[{report['verdict']}]" in result.output
    assert report["prompts"] == 6 and len(report["samples"]) == 12
    assert report["stats"]["count"] + report["failed_rollouts"] == 12
    assert {s["sample_index"] for s in report["samples"]} == {0, 1}
    assert all(set(s["sub_rewards"]) == {"tool_selection", "tool_input", "result_usage"}
               for s in report["samples"] if not s["rollout_error"])
    assert (out / "dry_run.png").read_bytes()[:4] == b"\x89PNG"
    config = json.loads((out / "grader_config.json").read_text())
    assert config["grader"]["type"] == "multi"
    pruned, _ = load_prompts(out / "sanitized_prompts.pruned.jsonl")
    everything, _ = load_prompts(sanitized_prompts)
    dropped = set(report["all_pass_prompt_ids"]) | set(report["all_fail_prompt_ids"])
    assert len(pruned) == len(everything) - len(dropped)
    assert not dropped & {p.id for p in pruned}


def test_dryrun_refuses_an_invalid_grader_with_its_place(llm_env, sanitized_prompts, tmp_path):
    grader = tmp_path / "grader.json"
    grader.write_text(json.dumps({"type": "multi", "name": "m", "calculate_output": "a + nope",
                                  "graders": {"a": {"type": "string_check", "name": "a",
                                                    "operation": "eq", "input": "x",
                                                    "reference": "y"}}}))
    result = CliRunner().invoke(cli(), ["dryrun", str(sanitized_prompts), "--grader",
                                        str(grader), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "$.calculate_output" in result.output and "nope" in result.output
    assert not (tmp_path / "o" / "dry_run_report.json").exists()


def test_grader_and_dry_run_steps_choose_the_preset_and_record_the_verdict(
        llm_env, sanitized_prompts, tmp_path, monkeypatch):
    monkeypatch.setenv("RFT_DRYRUN_PROMPTS", "2")
    monkeypatch.setenv("RFT_DRYRUN_MAX_TOKENS", "8")
    console = Console(record=True, width=120)
    context = JourneyContext(inputs=[], out_dir=tmp_path / "run", dataset="drone",
                             settings=RuntimeSettings(), console=console,
                             artifacts={"sanitized_prompts.jsonl": sanitized_prompts})
    grader_step(context)
    assert "tool_selection (40%)" in console.export_text(clear=False)
    config = json.loads(context.artifacts["grader_config.json"].read_text())
    assert config["preset"] == "tool_usage"
    dry_run_step(context)
    report = context.results["dry_run"]
    assert report.grader_name == "tool_usage"
    assert report.prompts == 2 and report.samples_per_prompt == 2
    assert report.dataset == "drone"
    assert {"grader_config.json", "dry_run_report.json", "dry_run.png"} <= set(context.artifacts)
    assert_verdict_follows_the_table(report)
    assert f"[{report.verdict.value}]" in console.export_text()


def test_a_train_split_row_is_graded_exactly_as_its_sanitized_prompt(sanitized_prompts, tmp_path):
    """The split's rows are the graders' item: presets find the reference fields in both."""
    prompts = [SanitizedPrompt.model_validate_json(line)
               for line in sanitized_prompts.read_text().splitlines()]
    train = tmp_path / "rft_prompts.train.jsonl"
    train.write_text("".join(json.dumps(rft_record(SplitItem(p, "drone"))) + "\n"
                             for p in prompts))
    from_split, _ = load_prompts(train)
    from_sanitized, _ = load_prompts(sanitized_prompts)
    grader = build_preset("tool_usage")
    for row, original in zip(from_split, from_sanitized, strict=True):
        for key in ("messages", "tools", "reference", "reference_tool_calls"):
            assert row.item[key] == original.item[key], key
    # the reference continuation pays well, as a grader that reads the right fields must
    with_calls = [p for p in from_split if p.item["reference_tool_calls"]][:5]
    assert with_calls

    async def rewards() -> list[float]:
        built = build_grader(grader)
        try:
            return [(await built(reference_sample(p.item), p.item)).reward for p in with_calls]
        finally:
            built.close()

    assert min(asyncio.run(rewards())) >= 0.7


def test_red_team_command_shows_the_exploits_and_the_judges_spread(llm_env, sanitized_prompts,
                                                                  tmp_path):
    grader = tmp_path / "contains.json"
    grader.write_text(json.dumps({"type": "string_check", "name": "contains",
                                  "operation": "ilike", "input": "{{sample.output_text}}",
                                  "reference": "{{item.messages}}"}))
    result = CliRunner().invoke(cli(), ["grader", "red-team", str(grader), "--prompts",
                                        str(sanitized_prompts), "-n", "2", "--out",
                                        str(tmp_path)])
    # ilike of the answer against the whole prompt: only a copy of the prompt could pass, and
    # the messages' JSON is not the user's text, so nothing should be paid here
    report = json.loads((tmp_path / "red_team_report.json").read_text())
    assert {e["kind"] for e in report["exploits"]} >= {"empty", "prompt_copy", "refusal",
                                                       "format_shell", "verbose_padding"}
    assert result.exit_code == (2 if report["flagged"] else 0), result.output
    assert "Red team: contains" in result.output
    assert report["consistency"] is None, "no judge in this grader"


EXACT = {"type": "string_check", "name": "exact", "operation": "eq",
         "input": "{{sample.output_text}}", "reference": "{{item.answer}}"}


def test_grader_validate_refuses_a_template_naming_a_field_the_data_lacks(sanitized_prompts,
                                                                         tmp_path):
    grader = tmp_path / "exact.json"
    grader.write_text(json.dumps(EXACT))
    assert CliRunner().invoke(cli(), ["grader", "validate", str(grader)]).exit_code == 0
    refused = CliRunner().invoke(cli(), ["grader", "validate", str(grader),
                                         "--prompts", str(sanitized_prompts)])
    assert refused.exit_code == 1
    assert "$.reference" in refused.output and "answer" in refused.output


def test_grader_run_answers_as_openais_run_endpoint(tmp_path):
    grader = tmp_path / "exact.json"
    grader.write_text(json.dumps(EXACT))
    result = CliRunner().invoke(cli(), ["grader", "run", str(grader), "--sample", "Paris",
                                        "--item", '{"answer": "Paris"}'])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["reward"] == 1.0
    assert answer["metadata"]["errors"]["invalid_variable_error"] is False
    bad = CliRunner().invoke(cli(), ["grader", "run", str(grader), "--sample", "x",
                                     "--item", "[1]"])
    assert bad.exit_code != 0 and "--item must be a JSON object" in bad.output


def test_grader_preview_pays_the_reference_continuations(sanitized_prompts, tmp_path):
    grader = tmp_path / "tool_usage.json"
    grader.write_text(json.dumps(json.loads(grader_config_json(build_preset("tool_usage")))))
    result = CliRunner().invoke(cli(), ["grader", "preview", str(grader), "--prompts",
                                        str(sanitized_prompts), "-n", "4"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "reference continuations" in result.output
    mean = float(result.output.split("mean reward of the references:")[1].split()[0])
    assert mean >= 0.7
