"""The wire contracts: real OpenAI-format records round-trip unchanged; exports are current."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from rft_schemas import (
    Conversation,
    GraderConfig,
    RawTrace,
    SanitizedPrompt,
    TopicHierarchy,
)
from rft_schemas.export import stale_files
from rft_schemas.kafka_topics import ALL_TOPICS

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
OPENAI_FORMAT_FILES = ["toy_chat_fine_tuning.jsonl", "drone_training.jsonl"]


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("name", OPENAI_FORMAT_FILES)
def test_real_openai_records_round_trip_unchanged(name):
    records = jsonl(DATA / name)
    assert records
    for record in records:
        parsed = Conversation.model_validate(record)
        assert parsed.model_dump(mode="json", exclude_unset=True) == record


def test_tool_calls_and_tools_are_typed_after_parsing():
    record = jsonl(DATA / "drone_training.jsonl")[0]
    conversation = Conversation.model_validate(record)
    call = conversation.messages[-1].tool_calls[0]
    assert call.function.name == "takeoff_drone"
    assert json.loads(call.function.arguments) == {"altitude": 100}
    assert conversation.tools and conversation.tools[0].function.name == "takeoff_drone"
    assert conversation.item_fields() == {"parallel_tool_calls": False}


def test_unknown_role_is_refused():
    with pytest.raises(ValidationError):
        Conversation.model_validate({"messages": [{"role": "robot", "content": "hi"}]})


def test_contract_refuses_a_newer_schema_version():
    with pytest.raises(ValidationError, match="newer than this reader"):
        RawTrace.model_validate(
            {"schema_version": 2, "id": "t", "dataset": "d", "source": {"uri": "f"},
             "payload": "{}"}
        )


def test_contract_refuses_unknown_fields():
    with pytest.raises(ValidationError):
        RawTrace.model_validate(
            {"id": "t", "dataset": "d", "source": {"uri": "f"}, "payload": "{}", "bogus": 1}
        )


def test_topic_names_are_versioned_and_unique():
    names = [t.name for t in ALL_TOPICS]
    assert len(names) == len(set(names))
    assert all(n.startswith("rft.") and n.endswith(".v1") for n in names)


def test_grader_config_accepts_openai_multi_grader_json():
    config = GraderConfig.model_validate(
        {
            "grader": {
                "type": "multi",
                "name": "tool_usage",
                "graders": {
                    "name_ok": {"type": "string_check", "name": "name_ok", "operation": "eq",
                                "input": "{{sample.output_tools}}", "reference": "{{item.tool}}"},
                    "similar": {"type": "text_similarity", "name": "similar",
                                "input": "{{sample.output_text}}",
                                "reference": "{{item.reference_answer}}",
                                "evaluation_metric": "rouge_l"},
                },
                "calculate_output": "0.5 * name_ok + 0.5 * similar",
            }
        }
    )
    assert config.grader.type == "multi"
    with pytest.raises(ValidationError):
        GraderConfig.model_validate({"grader": {"type": "nonsense", "name": "x"}})


def test_topic_names_must_be_snake_case():
    with pytest.raises(ValidationError):
        TopicHierarchy.model_validate(
            {"dataset": "d", "topics": [{"name": "Data Queries", "children": []}]}
        )


def test_sanitized_prompt_round_trips_through_json():
    prompt = SanitizedPrompt.model_validate(
        {
            "id": "p1", "dataset": "d",
            "messages": [{"role": "user", "content": "hi"}],
            "item_fields": {"reference_answer": "hello", "labels": ["a"]},
            "lineage": {"dataset": "d", "trace_id": "t1", "source": {"uri": "f.jsonl", "line": 3},
                        "format": "openai_chat"},
        }
    )
    assert SanitizedPrompt.model_validate_json(prompt.model_dump_json()) == prompt


def test_json_schema_export_is_current():
    stale = stale_files(Path(__file__).resolve().parents[2] / "schemas" / "json")
    assert not stale, f"run `python -m rft_schemas.export`: stale {stale}"
