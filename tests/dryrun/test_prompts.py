"""Reading a train split (and sanitized prompts), and the stratified sample of N prompts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from rft_grader.dryrun.prompts import DryRunPrompt, load_prompts, stratified_sample
from rft_schemas.conversation import Message


def prompt(i: int, topic: str) -> DryRunPrompt:
    return DryRunPrompt(f"p{i:03d}", topic, [Message(role="user", content=f"q{i}")], None, {})


def test_sanitized_prompts_are_read_with_the_grader_item(sanitized_prompts: Path):
    prompts, bad = load_prompts(sanitized_prompts)
    assert len(prompts) > 100 and bad == []
    drone = [p for p in prompts if p.tools]
    assert 0 < len(drone) < len(prompts), "drone prompts carry tools, toy chat prompts do not"
    assert sum(1 for p in drone if p.item["reference_tool_calls"]) > len(drone) * 0.9
    assert all(p.messages[-1].role == "user" for p in prompts)
    assert {p.topic for p in prompts} == {"all"}


def test_train_split_lines_keep_every_item_field_and_their_topic(tmp_path: Path):
    lines = [
        {"messages": [{"role": "user", "content": "2+2?"}], "reference": "4",
         "topic_path": ["math", "arithmetic"]},
        {"id": "given", "messages": [{"role": "user", "content": "hi"}], "topic": "chat",
         "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
    ]
    path = tmp_path / "rft_prompts.train.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    (first, second), bad = load_prompts(path)
    assert bad == []
    assert first.topic == "math/arithmetic" and first.item["reference"] == "4"
    assert first.id.startswith("p-")
    assert second.id == "given" and second.topic == "chat" and second.tools
    again, _ = load_prompts(path)
    assert again[0].id == first.id, "content ids are stable"


def test_lines_that_are_not_prompts_are_reported_not_raised(tmp_path: Path):
    path = tmp_path / "split.jsonl"
    path.write_bytes(b'{"messages": [{"role": "user", "content": "ok"}]}\n{broken\n[1, 2]\n'
                     b'{"messages": []}\n\xff\xfe\n\n{"messages": [{"role": "wizard"}]}\n')
    prompts, bad = load_prompts(path)
    assert len(prompts) == 1
    assert [b.line for b in bad] == [2, 3, 4, 5, 7]


def test_stratified_sample_keeps_each_topics_share_and_every_topic():
    prompts = ([prompt(i, "big") for i in range(60)] + [prompt(100 + i, "mid") for i in range(30)]
               + [prompt(200 + i, "tiny") for i in range(2)])
    chosen = stratified_sample(prompts, 20, seed=1)
    counts = Counter(p.topic for p in chosen)
    assert len(chosen) == 20 and len({p.id for p in chosen}) == 20
    assert counts["tiny"] >= 1
    assert 12 <= counts["big"] <= 13 and 6 <= counts["mid"] <= 7
    assert [p.id for p in stratified_sample(prompts, 20, seed=1)] == [p.id for p in chosen]
    assert [p.id for p in stratified_sample(prompts, 20, seed=2)] != [p.id for p in chosen]


def test_stratified_sample_of_more_than_the_split_is_the_whole_split_once():
    prompts = [prompt(i, "a") for i in range(5)] + [prompt(0, "a")]
    assert sorted(p.id for p in stratified_sample(prompts, 50)) == [f"p{i:03d}" for i in range(5)]
