"""Invalid grader configs are refused with the exact JSON path (and position) of the fault."""

from __future__ import annotations

import pytest

from rft_grader.presets import tool_usage
from rft_grader.validation import validate_grader

FIELDS = {"messages", "tools", "reference", "reference_tool_calls", "answer"}


def test_unknown_type_is_refused_at_its_type_field() -> None:
    config = {"grader": {"type": "multi", "name": "m", "calculate_output": "a",
                         "graders": {"a": {"type": "regex_match", "name": "a"}}}}
    [issue] = validate_grader(config, FIELDS)
    assert issue.code == "unknown_type"
    assert issue.path == "$.grader.graders.a.type"
    assert "regex_match" in issue.message


def test_missing_required_field_is_refused_with_its_path() -> None:
    [issue] = validate_grader({"type": "string_check", "name": "s", "input": "x",
                               "operation": "eq"})
    assert (issue.code, issue.path) == ("invalid_field", "$.reference")


def test_bad_operation_is_refused_with_its_path() -> None:
    issues = validate_grader({"type": "string_check", "name": "s", "input": "x",
                              "reference": "y", "operation": "regex"})
    assert [(i.code, i.path) for i in issues] == [("invalid_field", "$.operation")]


def test_formula_with_unknown_name_is_refused_with_position() -> None:
    config = {"type": "multi", "name": "m", "calculate_output": "0.5 * a + 0.5 * bb",
              "graders": {"a": {"type": "string_check", "name": "a", "input": "x",
                                "reference": "y", "operation": "eq"}}}
    [issue] = validate_grader(config, FIELDS)
    assert (issue.code, issue.path, issue.position) == ("unknown_name", "$.calculate_output", 16)


def test_template_naming_a_field_the_dataset_lacks_is_refused() -> None:
    config = {"type": "score_model", "name": "j", "model": "m",
              "input": [{"role": "system", "content": "grade"},
                        {"role": "user", "content": [
                            {"type": "input_text", "text": "ok {{item.answer}}"},
                            {"type": "input_text", "text": "Ref: {{ item.gold_answer }}"}]}]}
    [issue] = validate_grader(config, FIELDS)
    assert issue.code == "unknown_item_field"
    assert issue.path == "$.input[1].content[1].text"
    assert issue.position == 5 and "gold_answer" in issue.message


def test_unknown_sample_variable_and_namespace_are_refused() -> None:
    config = {"type": "string_check", "name": "s", "operation": "eq",
              "input": "{{sample.output}}", "reference": "{{answer}}"}
    issues = validate_grader(config, FIELDS)
    assert [(i.code, i.path) for i in issues] == [("unknown_variable", "$.input"),
                                                  ("unknown_variable", "$.reference")]


def test_python_source_problems_are_refused() -> None:
    syntax = validate_grader({"type": "python", "name": "p", "source": "def grade(:\n"})
    assert [(i.code, i.path) for i in syntax] == [("invalid_python", "$.source")]
    no_grade = validate_grader({"type": "python", "name": "p", "source": "x = 1\n"})
    assert [i.code for i in no_grade] == ["missing_grade_function"]
    imports = validate_grader({"type": "python", "name": "p",
                               "source": "import subprocess\ndef grade(s, i):\n    return 1\n"})
    assert [i.code for i in imports] == ["disallowed_import"]


@pytest.mark.parametrize("source", [
    # the issue's escapes, as submitted to `rft grader validate`
    "def grade(s, i):\n    os = print.__self__.__import__('os')\n    return 1.0\n",
    "import json\ndef grade(s, i):\n    return json.__builtins__['open']('/etc/passwd')\n",
    "class P:\n    def __fspath__(self):\n        return '/etc/passwd'\n"
    "def grade(s, i):\n    return 1.0\n",
    "import sys\ndef grade(s, i):\n    return 1.0\n",
    "def grade(s, i):\n    f = (lambda: 0).__code__\n    return 1.0\n",
    "def grade(s, i):\n    return getattr(print, '__self__') and 1.0\n",
    "def grade(s, i):\n    return eval('1')\n",
    "def grade(s, i):\n    return [c for c in ().__class__.__bases__[0].__subclasses__()]\n",
])
def test_sources_that_reach_past_the_allowlist_are_not_valid(source: str) -> None:
    issues = validate_grader({"type": "python", "name": "p", "source": source})
    assert issues and {i.code for i in issues} <= {"sandbox_escape", "disallowed_import"}
    assert all(i.path == "$.source" for i in issues)


def test_ordinary_graders_are_valid() -> None:
    source = ("import json, re\nfrom collections import Counter\n"
              "def grade(sample, item):\n    words = Counter(re.findall(r'\\w+', "
              "sample['output_text']))\n    return float(words[item['answer']] > 0)\n")
    assert validate_grader({"type": "python", "name": "p", "source": source}) == []


def test_label_model_passing_label_outside_labels_is_refused() -> None:
    config = {"type": "label_model", "name": "l", "model": "m", "labels": ["a", "b"],
              "passing_labels": ["a", "c"], "input": [{"role": "user", "content": "x"}]}
    [issue] = validate_grader(config)
    assert issue.path == "$.passing_labels[1]"


def test_valid_preset_config_has_no_issues() -> None:
    assert validate_grader(tool_usage(), FIELDS) == []
    assert validate_grader(tool_usage().model_dump(mode="json", exclude_none=True), FIELDS) == []
