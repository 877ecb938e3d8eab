"""The seed's presets as OpenAI grader configs (``grader_config.json``).

Where OpenAI's grader types cannot express a dimension (JSON Schema checks, tool-call
comparison, length against completeness) it is a python grader whose source ships in
``preset_graders/``, so the config still moves to OpenAI as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from rft_schemas import ToolSpec
from rft_schemas.artifacts import GRADER_CONFIG
from rft_schemas.grader import (
    GraderConfig,
    GraderPresetResponse,
    JudgeMessage,
    MultiGrader,
    PythonGrader,
    ScoreModelGrader,
)

PRESETS = ("correctness", "format_compliance", "tool_usage", "conciseness")
TOOL_USAGE_WEIGHTS = {"tool_selection": 0.4, "tool_input": 0.3, "result_usage": 0.3}


def preset_source(name: str, **constants: Any) -> str:
    """A preset grader's source, with its top-level ``NAME = ...`` constants replaced."""
    source = resources.files("rft_grader.preset_graders").joinpath(f"{name}.py").read_text()
    for key, value in constants.items():
        # repr() of str/float/None/dict of JSON values is a valid Python literal.
        line = f"{key} = {value!r}"
        pattern = re.compile(rf"^{key}(?::[^=\n]*)? = .*$", flags=re.MULTILINE)
        source, count = pattern.subn(line.replace("\\", "\\\\"), source, count=1)
        if count != 1:
            raise KeyError(f"{name}.py has no top-level {key}")
    return source


CORRECTNESS_SYSTEM = (
    "You grade an AI assistant's answer against a reference answer written for the same "
    "conversation. Score 1 when the answer is correct and agrees with the reference in "
    "substance, 0 when it is wrong, irrelevant, empty or a refusal, and a value in between "
    "for a partly correct answer. Judge the facts and the actions (tool calls), not the wording."
)
CORRECTNESS_USER = (
    "Conversation so far:\n{{item.messages}}\n\n"
    "Reference answer:\n{{item.reference}}\nReference tool calls: {{item.reference_tool_calls}}\n\n"
    "Answer to grade:\n{{sample.output_text}}\nIts tool calls: {{sample.output_tools}}"
)


def correctness(model: str = "judge") -> GraderConfig:
    grader = ScoreModelGrader(
        name="correctness", model=model, range=(0.0, 1.0),
        input=[JudgeMessage(role="system", content=CORRECTNESS_SYSTEM),
               JudgeMessage(role="user", content=CORRECTNESS_USER)],
    )
    return GraderConfig(grader=grader, preset="correctness")


def format_compliance(schema: dict[str, Any] | None = None) -> GraderConfig:
    source = preset_source("format_compliance", SCHEMA=json.loads(json.dumps(schema)))
    return GraderConfig(grader=PythonGrader(name="format_compliance", source=source),
                        preset="format_compliance")


def tool_usage() -> GraderConfig:
    graders: dict[str, Any] = {
        key: PythonGrader(name=key, source=preset_source("tool_usage", DIMENSION=key))
        for key in TOOL_USAGE_WEIGHTS
    }
    formula = " + ".join(f"{weight} * {key}" for key, weight in TOOL_USAGE_WEIGHTS.items())
    return GraderConfig(grader=MultiGrader(name="tool_usage", graders=graders,
                                           calculate_output=formula), preset="tool_usage")


def conciseness() -> GraderConfig:
    return GraderConfig(grader=PythonGrader(name="conciseness",
                                            source=preset_source("conciseness")),
                        preset="conciseness")


def build_preset(name: str, **options: Any) -> GraderConfig:
    builders: dict[str, Callable[..., GraderConfig]] = {
        "correctness": correctness, "format_compliance": format_compliance,
        "tool_usage": tool_usage, "conciseness": conciseness,
    }
    if name not in builders:
        raise KeyError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    return builders[name](**options)


class CarriesTools(Protocol):
    """A prompt as any step holds it (a ``SanitizedPrompt``, the dry run's ``DryRunPrompt``)."""

    @property
    def tools(self) -> Sequence[ToolSpec] | None: ...


def choose_preset(prompts: Iterable[CarriesTools]) -> str:
    """Tool usage when the prompts carry tools, correctness otherwise (the seed's default)."""
    return "tool_usage" if any(p.tools for p in prompts) else "correctness"


def grader_config_json(config: GraderConfig) -> str:
    """``grader_config.json`` as written to disk: OpenAI's JSON, no nulls."""
    return config.model_dump_json(indent=2, exclude_none=True) + "\n"


GRADER_CONFIG_FILE = GRADER_CONFIG.name


def write_grader_config(config: GraderConfig, out_dir: Path) -> Path:
    """Step G's artifact: ``out_dir/grader_config.json`` (the directory made if need be)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / GRADER_CONFIG_FILE
    path.write_text(grader_config_json(config))
    return path


class UnusableRows(ValueError):
    """Rows a preset cannot be chosen for: each bad row named by its index."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__("; ".join(f"rows[{i}]: {why}" for i, why in problems))
        self.problems = problems


def preset_for_rows(rows: Sequence[dict[str, Any]],
                    name: str | None = None) -> GraderPresetResponse:
    """Step G for a dataset's train rows (the grader's ``POST /v1/graders:preset``): the preset
    ``name`` or the one the rows call for (:func:`choose_preset`), as ``grader_config.json``,
    with the issues of its templates against the rows' item fields."""
    # Imported here: the dry run's prompt parser and the validator import this module's users.
    from rft_grader.dryrun.prompts import parse_prompt
    from rft_grader.validation import validate_grader

    prompts, problems = [], []
    for index, row in enumerate(rows):
        try:
            prompts.append(parse_prompt(row))
        except ValueError as error:
            problems.append((index, str(error).splitlines()[0][:200]))
    if problems:
        raise UnusableRows(problems)
    preset = name or choose_preset(prompts)
    config = json.loads(grader_config_json(build_preset(preset)))
    fields = sorted({key for p in prompts for key in p.item})
    return GraderPresetResponse(preset=preset, config=config, dataset_fields=fields,
                                issues=validate_grader(config, fields))
