"""Python grader source of the tool_usage preset: one file, three dimensions.

The preset substitutes ``DIMENSION`` for each sub-grader. Runs in the sandbox: standard
library and jsonschema only. Tool calls come from ``sample.output_tools``; a model that writes
its call as text (a JSON object, or Hermes-style ``<tool_call>`` tags) is read the same way.
"""

import json
import re
from typing import Any

import jsonschema

DIMENSION = "tool_selection"

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)


def _as_call(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    nested = value.get("function")
    function: dict[str, Any] = nested if isinstance(nested, dict) else value
    name = function.get("name")
    if not isinstance(name, str):
        return None
    arguments = function.get("arguments", function.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            arguments = None
    return {"name": name, "arguments": arguments}


def sample_calls(sample: dict[str, Any]) -> list[dict[str, Any]]:
    calls = [_as_call(c) for c in sample.get("output_tools") or []]
    if not calls:
        text = sample.get("output_text") or ""
        candidates: list[Any] = [sample.get("output_json")]
        for body in _TAGGED.findall(text):
            try:
                candidates.append(json.loads(body))
            except ValueError:
                continue
        for candidate in candidates:
            if isinstance(candidate, list):
                calls.extend(_as_call(c) for c in candidate)
            else:
                calls.append(_as_call(candidate))
    return [c for c in calls if c is not None]


def reference_calls(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in (_as_call(c) for c in item.get("reference_tool_calls") or []) if c]


def tool_selection(sample: dict[str, Any], item: dict[str, Any]) -> float:
    wanted = {c["name"] for c in reference_calls(item)}
    called = {c["name"] for c in sample_calls(sample)}
    if not wanted and not called:
        return 1.0
    if not wanted or not called:
        return 0.0
    return len(wanted & called) / len(wanted | called)


def tool_input(sample: dict[str, Any], item: dict[str, Any]) -> float:
    calls = sample_calls(sample)
    wanted = {c["name"] for c in reference_calls(item)}
    if not calls:
        return 0.0 if wanted else 1.0
    specs: dict[str, Any] = {}
    for tool in item.get("tools") or []:
        function = tool.get("function", tool)
        specs[function.get("name")] = function.get("parameters") or {"type": "object"}
    valid = 0
    for call in calls:
        schema = specs.get(call["name"])
        # Valid arguments to a tool the reference did not call earn nothing: otherwise a wrong
        # tool with well-formed JSON is paid (the red team's wrong_tool exploit).
        if schema is None or (wanted and call["name"] not in wanted):
            continue
        if not isinstance(call["arguments"], dict):
            continue
        try:
            jsonschema.validate(call["arguments"], schema)
        except (jsonschema.ValidationError, jsonschema.SchemaError):
            continue
        valid += 1
    return valid / len(calls)


def _leaves(value: Any, out: set[str]) -> None:
    if isinstance(value, dict):
        for v in value.values():
            _leaves(v, out)
    elif isinstance(value, list):
        for v in value:
            _leaves(v, out)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        out.add(str(value))
    elif isinstance(value, str):
        try:
            _leaves(json.loads(value), out)
        except ValueError:
            out.update(w for w in re.findall(r"[\w.@:-]+", value) if len(w) >= 3)


def latest_tool_results(item: dict[str, Any]) -> list[Any]:
    results = []
    for message in reversed(item.get("messages") or []):
        if message.get("role") == "tool":
            results.append(message.get("content") or "")
        elif results:
            break
    return results


def result_usage(sample: dict[str, Any], item: dict[str, Any]) -> float:
    results = latest_tool_results(item)
    calls = sample_calls(sample)
    if not results:
        # No tool result to use yet: using the turn well means making the reference's move.
        return tool_selection(sample, item)
    facts: set[str] = set()
    for content in results:
        _leaves(content, facts)
    if not facts:
        return 1.0
    answer = (sample.get("output_text") or "") + " " + json.dumps([c["arguments"] for c in calls])
    found = len([fact for fact in facts if fact.lower() in answer.lower()])
    return min(1.0, found / min(3, len(facts)))


DIMENSIONS = {"tool_selection": tool_selection, "tool_input": tool_input,
              "result_usage": result_usage}


def grade(sample: dict[str, Any], item: dict[str, Any]) -> float:
    return float(DIMENSIONS[DIMENSION](sample, item))
