"""Step C's confidence on a hierarchy discovery made: its topics' examples are their most typical
members, so the confidence is calibrated on the dataset's own neighbourhoods, not on them; a
hierarchy a person wrote keeps the temperature fitted on its examples. Scored on real Banking77
prompts against their intents; benchmarks/topics.py measures it on six whole intent sets."""

from __future__ import annotations

import asyncio
from collections import Counter

import numpy as np
import pytest

from rft_categorizer.calibration import (
    expected_calibration_error,
    softmax,
    temperature_for_mean_confidence,
)
from rft_categorizer.categorize import (
    assign_topics,
    fit_hierarchy_classifier,
    fit_topic_classifier,
    topic_texts,
)
from rft_categorizer.classifier import calibrated_to_neighbours
from rft_categorizer.discovery import discover_topics
from rft_schemas.topics import HierarchySource


@pytest.fixture(scope="module")
def labelled(bank_few_shot):
    """600 Banking77 test prompts of 20 intents, with confusable pairs (card_arrival and
    card_delivery_estimate...)."""
    return bank_few_shot.test


@pytest.fixture(scope="module")
def discovered(labelled, embed):
    found = asyncio.run(discover_topics("set", labelled.texts, labelled.vectors))
    leaf_vectors = {path: embed(texts) for path, texts in topic_texts(found.hierarchy).items()}
    return found.hierarchy, leaf_vectors


def confidence_against_intents(classifier, labelled) -> tuple[float, float, float]:
    """Accuracy (a prompt is right in the topic holding most prompts of its intent: discovery
    may merge intents), mean confidence and ECE."""
    assignments = assign_topics(classifier, labelled.vectors)
    landed = [tuple(a.runner_up if a.uncategorized else a.path) for a in assignments]
    confidence = np.array(
        [a.runner_up_confidence if a.uncategorized else a.confidence for a in assignments])
    home = {intent: Counter(t for t, i in zip(landed, labelled.fine, strict=True)
                            if i == intent).most_common(1)[0][0] for intent in set(labelled.fine)}
    correct = np.array([home[i] == t for t, i in zip(landed, labelled.fine, strict=True)])
    return correct.mean(), confidence.mean(), expected_calibration_error(confidence, correct)


def test_a_discovered_hierarchys_confidence_means_what_it_says(discovered, labelled):
    hierarchy, leaf_vectors = discovered
    assert hierarchy.source is HierarchySource.AUTO
    classifier = fit_hierarchy_classifier(hierarchy, leaf_vectors, pool=labelled.vectors)
    accuracy, confidence, error = confidence_against_intents(classifier, labelled)
    # measured: 0.922 of prompts in their intent's topic, mean confidence 0.935, ECE 0.031
    assert error < 0.05 and abs(confidence - accuracy) < 0.05, (accuracy, confidence, error)
    # the temperature fitted on the topics' own (most typical) examples claims far more:
    # measured 0.984, ECE 0.066
    before = fit_topic_classifier(leaf_vectors, pool=labelled.vectors)
    _, confidence_before, error_before = confidence_against_intents(before, labelled)
    assert confidence_before - accuracy > 2 * abs(confidence - accuracy)
    assert error_before > error


def test_a_hierarchy_a_person_wrote_keeps_the_temperature_of_its_examples(
    discovered, labelled
):
    hierarchy, leaf_vectors = discovered
    written = hierarchy.model_copy(update={"source": HierarchySource.MANUAL})
    pool = labelled.vectors
    kept = fit_hierarchy_classifier(written, leaf_vectors, pool=pool)
    assert kept.temperature == fit_topic_classifier(leaf_vectors, pool=pool).temperature
    assert fit_hierarchy_classifier(hierarchy, leaf_vectors, pool=pool).temperature != (
        kept.temperature)


def test_too_few_prompts_to_count_neighbours_in_leave_the_classifier_as_it_is(
    discovered, labelled
):
    _, leaf_vectors = discovered
    classifier = fit_topic_classifier(leaf_vectors, pool=labelled.vectors[:3])
    assert calibrated_to_neighbours(classifier, labelled.vectors[:3]) is classifier


def test_the_temperature_for_a_mean_confidence_reaches_it_or_its_bound() -> None:
    logits = np.random.default_rng(0).normal(size=(200, 8)) * 3
    for target in (0.3, 0.6, 0.9):
        temperature = temperature_for_mean_confidence(logits, target)
        assert softmax(logits, temperature).max(axis=1).mean() == pytest.approx(target, abs=1e-6)
    assert temperature_for_mean_confidence(logits, 0.01) == 50  # below 1/8: the flattest
    assert temperature_for_mean_confidence(logits, 1.0) == 0.02  # certainty: the sharpest
