"""Step C on real Banking77 prompts: accuracy, calibrated confidence, flags, re-categorization."""

from __future__ import annotations

import numpy as np
import pytest

from rft_categorizer.calibration import expected_calibration_error
from rft_categorizer.categorize import (
    assign_topics,
    categorize_prompts,
    fit_topic_classifier,
    review_queue,
    set_topic_manually,
    topic_texts,
)
from rft_categorizer.editing import add_topic, delete_topic, move_topic
from rft_categorizer.keywords import snake_case
from rft_categorizer.second_opinion import parse_choice, second_opinion
from rft_schemas.topics import CategorizationMethod, TopicHierarchy
from tests.categorizer.conftest import HWU_INTENTS, hwu64, sanitized


@pytest.fixture(scope="module")
def hierarchy(bank_few_shot) -> TopicHierarchy:
    """Banking intents as a flat hierarchy: the label name and five train examples per leaf."""
    return TopicHierarchy(
        dataset="bank",
        topics=[
            {"name": snake_case(intent), "examples": examples}
            for intent, examples in bank_few_shot.examples.items()
        ],
    )


@pytest.fixture(scope="module")
def stored_vectors(embed, hierarchy):
    """The vector store of topic texts: embedded once; an edit must find its texts here."""
    texts = [t for leaf in topic_texts(hierarchy).values() for t in leaf]
    return dict(zip(texts, embed(texts), strict=True))


def leaf_vectors(hierarchy, stored):
    leaves = topic_texts(hierarchy).items()
    return {path: np.stack([stored[t] for t in texts]) for path, texts in leaves}


@pytest.fixture(scope="module")
def batch(bank_few_shot, hierarchy, stored_vectors):
    test = bank_few_shot.test
    classifier = fit_topic_classifier(leaf_vectors(hierarchy, stored_vectors), pool=test.vectors)
    return classifier, assign_topics(classifier, test.vectors)


@pytest.fixture(scope="module")
def records(bank_few_shot, batch, hierarchy):
    classifier, _ = batch
    test = bank_few_shot.test
    prompts = [sanitized(f"b{i}", t) for i, t in enumerate(test.texts)]
    return categorize_prompts(prompts, test.vectors, classifier, hierarchy.version)


def test_beats_nearest_centroid_and_is_calibrated_on_held_out_prompts(bank_few_shot, batch):
    test = bank_few_shot.test
    _, assignments = batch
    truth = [snake_case(label) for label in test.fine]
    correct = np.array([a.path[0] == t for a, t in zip(assignments, truth, strict=True)])
    confidence = np.array([a.confidence for a in assignments])
    names = list(bank_few_shot.example_vectors)
    centroids = np.stack([bank_few_shot.example_vectors[n][1:].mean(0) for n in names])
    nearest = np.array(names)[(test.vectors @ centroids.T).argmax(1)]
    centroid_accuracy = np.mean(nearest == np.array(test.fine))
    # measured: 0.91 against 0.88 for the nearest centroid; ECE 0.015 over 600 prompts
    assert correct.mean() > 0.88
    assert correct.mean() > centroid_accuracy
    assert expected_calibration_error(confidence, correct) < 0.06
    # confident answers are right more often than unsure ones
    assert correct[confidence >= 0.8].mean() > correct[confidence < 0.8].mean()


def test_prompts_from_another_domain_are_uncategorized(embed, batch, bank_few_shot):
    classifier, assignments = batch
    texts, _, _ = hwu64("test", HWU_INTENTS, per_intent=5)
    foreign = assign_topics(classifier, embed(texts), pool=bank_few_shot.test.vectors)
    assert np.mean([a.uncategorized for a in foreign]) > 0.5  # measured 0.7
    assert np.mean([a.uncategorized for a in assignments]) < 0.02
    flagged = next(a for a in foreign if a.uncategorized)
    assert flagged.path == ["other"] and flagged.needs_review and flagged.confidence == 0.0
    assert flagged.runner_up is not None


def test_records_carry_runner_up_flags_and_review_queue(records):
    assert all(r.method is CategorizationMethod.EMBEDDING for r in records)
    assert all(r.runner_up and r.runner_up != r.topic_path for r in records)
    assert all(r.needs_review == (r.confidence < 0.5) for r in records)
    assert any(r.multi_topic for r in records) and not all(r.multi_topic for r in records)
    for r in records:
        if r.multi_topic:
            assert r.runner_up_confidence >= 0.6 * r.confidence
    queue = review_queue(records)
    assert queue == sorted(queue, key=lambda r: r.confidence) and len(queue) < len(records) / 5
    fixed = set_topic_manually(queue[0], ["card_arrival"])
    assert (fixed.method, fixed.confidence, fixed.needs_review) == ("manual", 1.0, False)


def test_recategorizing_after_edits_uses_stored_vectors_only(
    bank_few_shot, hierarchy, stored_vectors, batch
):
    test = bank_few_shot.test
    _, before = batch
    edited = delete_topic(hierarchy, ["card_delivery_estimate"])
    edited = add_topic(edited, [], "cards")
    edited = move_topic(edited, ["card_arrival"], ["cards"])
    assert edited.version == hierarchy.version + 3
    # every text of the edited hierarchy is already in the store: no prompt or topic re-embedded
    classifier = fit_topic_classifier(leaf_vectors(edited, stored_vectors), pool=test.vectors)
    after = assign_topics(classifier, test.vectors)
    deleted = [i for i, label in enumerate(test.fine) if label == "card_delivery_estimate"]
    assert all(after[i].path != ["card_delivery_estimate"] for i in range(len(after)))
    assert sum(after[i].path == ["cards", "card_arrival"] for i in deleted) >= len(deleted) // 3
    moved = [i for i, a in enumerate(before) if a.path == ["card_arrival"]]
    assert np.mean([after[i].path == ["cards", "card_arrival"] for i in moved]) > 0.9
    edited_names = {"card_arrival", "card_delivery_estimate"}
    untouched = [i for i, a in enumerate(before) if a.path[0] not in edited_names]
    same = np.mean([after[i].path == before[i].path for i in untouched])
    assert same > 0.95


class ScriptedJudge:
    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.asked: list[str] = []

    async def complete(self, messages):
        self.asked.append(messages[-1]["content"])
        return self.answer


async def test_llm_second_opinion_moves_only_unsure_prompts(bank_few_shot, records, hierarchy):
    test = bank_few_shot.test
    unsure = [i for i, r in enumerate(records) if r.confidence < 0.5]
    assert unsure
    target = records[unsure[0]].runner_up
    judge = ScriptedJudge(f'I pick {{"topic": "{"/".join(target)}"}}')
    reviewed = await second_opinion(records, test.texts, hierarchy, judge)
    assert len(judge.asked) == len([r for r in records if r.confidence < 0.5])
    assert reviewed[unsure[0]].topic_path == target
    assert reviewed[unsure[0]].method is CategorizationMethod.LLM
    sure = [i for i, r in enumerate(records) if r.confidence >= 0.5]
    assert all(reviewed[i] == records[i] for i in sure)
    nonsense = await second_opinion(records, test.texts, hierarchy, ScriptedJudge("no idea"))
    assert nonsense == records


def test_parse_choice_accepts_only_a_listed_topic():
    keys = ["billing/refunds", "orders"]
    assert parse_choice('```{"topic": "orders"}```', keys) == "orders"
    assert parse_choice('{"topic": "shipping"}', keys) is None
    assert parse_choice("It is billing/refunds.", keys) == "billing/refunds"
    assert parse_choice("billing/refunds or orders", keys) is None


def test_parse_choice_reads_what_small_models_write():
    keys = ["flight/movement", "lights"]
    # cut at the token limit mid-object, with both keys in the text
    cut = '```json\n{\n  "topic": "flight/movement",\n  "description": "drone lights: on",\n "}'
    assert parse_choice(cut, keys) == "flight/movement"
    assert parse_choice('{"topic": "lights: the LED lights"}', keys) == "lights"
