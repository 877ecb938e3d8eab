"""Every real file in examples/data through the batch runner, with expectations checked by hand
against the files themselves (see examples/data/SOURCES.md)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from rft_sanitizer.batch import PROMPTS_FILE, REJECTED_FILE, REPORT_FILE, sanitize_files
from rft_sanitizer.settings import SanitizerSettings
from rft_sanitizer.tokens import TokenCounter
from tests.sanitizer.conftest import DATA

PLACEHOLDER = re.compile(r"<(?:SECRET|CARD|EMAIL|PHONE)_\d+>")
TRACE_FILES = [
    DATA / "toy_chat_fine_tuning.jsonl",
    DATA / "drone_training.jsonl",
    DATA / "tau2_airline" / "whissle_airline_run1.json",
    DATA / "toolace_sharegpt_100.json",
    *sorted((DATA / "bfcl").glob("*.json")),
]

# (file name, outcome) -> count, established by reading each file (see the comments).
EXPECTED = {
    # record 4 has a system and an assistant turn only
    ("toy_chat_fine_tuning.jsonl", "valid"): 4,
    ("toy_chat_fine_tuning.jsonl", "missing_user_message"): 1,
    # all 103 end on an unanswered tool call with the literal id "call_id": that call is the
    # reference, not an error
    ("drone_training.jsonl", "valid"): 103,
    # 50 simulations ending on ###STOP###/###TRANSFER### turns; three are longer than the
    # bound, SmolLM2's 8,192-token context minus the 256-token completion budget (two, items
    # 22 and 25, are longer than the context itself)
    ("whissle_airline_run1.json", "valid"): 47,
    ("whissle_airline_run1.json", "too_long"): 3,
    # item 85 answers a function_call of "[]" (no call); items 27 and 30 have an empty gpt turn
    ("toolace_sharegpt_100.json", "valid"): 97,
    ("toolace_sharegpt_100.json", "broken_tool_chain"): 1,
    ("toolace_sharegpt_100.json", "empty_content"): 2,
    # lines 196, 213, 221 repeat the line before; line 738 is a lone "\x16"
    ("BFCL_v4_live_irrelevance.json", "valid"): 880,
    ("BFCL_v4_live_irrelevance.json", "duplicate"): 3,
    ("BFCL_v4_live_irrelevance.json", "empty_content"): 1,
    # lines 30 and 177 repeat live_irrelevance lines 119 and 568
    ("BFCL_v4_live_simple.json", "valid"): 256,
    ("BFCL_v4_live_simple.json", "duplicate"): 2,
    ("BFCL_v4_multi_turn_base.json", "valid"): 200,
    ("BFCL_v4_multiple.json", "valid"): 200,
    ("BFCL_v4_parallel.json", "valid"): 200,
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, counter: TokenCounter) -> Path:
    root = tmp_path_factory.mktemp("real")
    settings = SanitizerSettings(data_dir=root / "data")
    sanitize_files(TRACE_FILES, root / "out", settings, counter=counter)
    return root


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def prompts(run: Path) -> list[dict]:
    return _lines(run / "out" / PROMPTS_FILE)


@pytest.fixture(scope="module")
def rejected(run: Path) -> list[dict]:
    return _lines(run / "out" / REJECTED_FILE)


def _name(record: dict) -> str:
    return Path(record["source"]["uri"]).name


def test_counts_per_file_and_reason_are_the_hand_checked_ones(prompts, rejected):
    seen: Counter[tuple[str, str]] = Counter()
    for p in prompts:
        seen[(_name(p["lineage"]), "valid")] += 1
    for r in rejected:
        seen[(_name(r), r["reason"])] += 1
    assert dict(seen) == EXPECTED


def test_report_file_matches_the_outputs(run, prompts, rejected):
    report = json.loads((run / "out" / REPORT_FILE).read_text())
    assert report["input"] == sum(EXPECTED.values())
    assert report["valid"] == len(prompts)
    assert sum(report["rejected"].values()) == len(rejected)
    assert report["rejected"]["duplicate"] == 5
    assert set(report) >= {"input", "valid", "rejected", "redactions", "tokens"}
    tokens = report["tokens"]
    assert tokens["counted"] + tokens["estimated"] == len(prompts)
    assert tokens["tokenizer"] == "smollm2-135m-instruct"


def test_every_prompt_ends_on_a_user_turn(prompts):
    assert prompts
    assert all(p["messages"][-1]["role"] == "user" for p in prompts)


def test_rejections_name_file_line_and_excerpt(rejected):
    toolace = next(r for r in rejected if r["reason"] == "broken_tool_chain")
    assert _name(toolace) == "toolace_sharegpt_100.json"
    assert toolace["source"]["line"] == 85  # item index in the JSON array
    assert toolace["excerpt"].startswith('{"conversations"')
    toy = next(r for r in rejected if r["reason"] == "missing_user_message")
    assert (_name(toy), toy["source"]["line"]) == ("toy_chat_fine_tuning.jsonl", 4)


def test_duplicates_point_at_the_prompt_kept(prompts, rejected):
    kept = {p["id"]: p for p in prompts}
    duplicates = [r for r in rejected if r["reason"] == "duplicate"]
    assert len(duplicates) == 5
    for duplicate in duplicates:
        original = kept[duplicate["duplicate_of"]]
        assert original["lineage"]["source"]["uri"] in duplicate["detail"]
    by_line = {(_name(r), r["source"]["line"]): r for r in duplicates}
    first = by_line[("BFCL_v4_live_simple.json", 30)]
    assert kept[first["duplicate_of"]]["lineage"]["source"]["line"] == 119


def test_tau2_tool_chains_with_repeated_ids_pass(prompts):
    tau2 = [p for p in prompts if p["lineage"]["format"] == "tau2"]
    assert len(tau2) == 47
    repeated = 0
    for p in tau2:
        ids = [c["id"] for m in p["messages"] for c in m.get("tool_calls") or ()]
        repeated += len(ids) != len(set(ids))
    assert repeated > 0  # real conversations reuse ids, and they were accepted


# item -> the start of the user turn its prompt ends on (read off the file by hand: each later
# user turn only thanks, says goodbye, or is a bare ###STOP### / ###TRANSFER### marker, or is
# the turn the simulator ended the conversation on, which the agent never answered: item 2's
# "Could you please transfer me to a supervisor? ...###TRANSFER")
TAU2_CUTS = {
    0: "Yes, I'd like to proceed with the cancellation. Could you please confirm",
    2: "I believe I'm a Gold member, not Silver. Could you please double-check",
    40: "Yes, please go ahead and cancel reservation UDMOP1.",
    42: "Thank you for your help! That sounds perfect. Is there anything else",
    48: "Thank you for canceling it. Just to confirm, since I booked it",
}


def test_tau2_prompts_end_on_the_last_meaningful_user_turn(prompts):
    tau2 = {p["lineage"]["source"]["line"]: p for p in prompts if p["lineage"]["format"] == "tau2"}
    for item, start in TAU2_CUTS.items():
        assert tau2[item]["messages"][-1]["content"].startswith(start)
    # control markers never stay in a prompt, wherever they stood
    for p in tau2.values():
        assert not any("###" in (m["content"] or "") for m in p["messages"] if m["role"] == "user")


def test_tau2_prompts_carry_the_policy_and_the_simulation_fields(prompts):
    source = json.loads((DATA / "tau2_airline" / "whissle_airline_run1.json").read_text())
    simulations = {s["id"]: s for s in source["simulations"]}
    for p in (p for p in prompts if p["lineage"]["format"] == "tau2"):
        simulation = simulations[p["item_fields"]["id"]]
        system = p["messages"][0]
        assert (system["role"], system["content"]) == ("system", simulation["policy"])
        assert p["item_fields"]["reward_info"] == simulation["reward_info"]
        assert p["item_fields"]["task_id"] == simulation["task_id"]


def test_drone_references_keep_the_unanswered_tool_call(prompts):
    drone = [p for p in prompts if _name(p["lineage"]) == "drone_training.jsonl"]
    tool_names = {t["function"]["name"] for t in drone[0]["tools"]}
    for p in drone:
        (reference,) = p["reference"]
        (call,) = reference["tool_calls"]
        assert call["id"] == "call_id" and call["function"]["name"] in tool_names
        assert p["item_fields"] == {"parallel_tool_calls": False}


def test_toolace_references_keep_trailing_function_calls(prompts):
    source = json.loads((DATA / "toolace_sharegpt_100.json").read_text())
    by_line = {
        p["lineage"]["source"]["line"]: p for p in prompts if p["lineage"]["format"] == "sharegpt"
    }
    ending_on_call = [
        i for i, d in enumerate(source) if d["conversations"][-1]["from"] == "function_call"
    ]
    assert len(ending_on_call) == 36
    for index in ending_on_call:
        if index in by_line:
            reference = by_line[index]["reference"]
            assert reference and reference[-1]["tool_calls"]


def test_bfcl_question_list_is_the_prompt_whole(prompts):
    multi = [p for p in prompts if _name(p["lineage"]) == "BFCL_v4_multi_turn_base.json"]
    source = [json.loads(line) for line in (DATA / "bfcl" / "BFCL_v4_multi_turn_base.json").open()]
    by_id = {s["id"]: s for s in source}
    for p in multi:
        question = [m["content"] for t in by_id[p["item_fields"]["id"]]["question"] for m in t]
        assert len(p["messages"]) == len(question)
        for got, source_text in zip(p["messages"], question, strict=True):
            # secrets and cards in the questions ("password is securePass123.") are redacted
            assert got["content"] == source_text or PLACEHOLDER.search(got["content"])
        assert "initial_config" in p["item_fields"] and p["tools"] is None


def test_secrets_in_real_prompts_are_replaced_by_placeholders(prompts):
    # BFCL multi-turn questions spell out "password is securePass123." (the item field
    # initial_config holds it too: item fields are the user's grading data, left as they are)
    texts = [m["content"] or "" for p in prompts for m in p["messages"] + p["reference"]
             if isinstance(m["content"], str)]
    assert not any("securePass123" in t for t in texts)
    assert sum("password is <SECRET_1>" in t for t in texts) >= 3


def test_rerunning_the_same_files_keeps_every_prompt(run, counter, tmp_path):
    # the dedup store survives the first run: the same traces own their prompts
    settings = SanitizerSettings(data_dir=run / "data")
    report = sanitize_files(TRACE_FILES, tmp_path / "again", settings, counter=counter)
    assert report.valid == sum(n for (_, outcome), n in EXPECTED.items() if outcome == "valid")
    assert report.rejected.get("duplicate") == 5


def test_a_copy_of_a_file_under_another_name_is_all_duplicates(run, counter, tmp_path):
    copy = tmp_path / "drone_copy.jsonl"
    copy.write_bytes((DATA / "drone_training.jsonl").read_bytes())
    settings = SanitizerSettings(data_dir=run / "data")
    report = sanitize_files([copy], tmp_path / "copy", settings, counter=counter)
    assert report.rejected == {"duplicate": 103}
