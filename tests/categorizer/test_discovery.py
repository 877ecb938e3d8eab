"""Step B, auto-generate: topics discovered from real HWU64 utterances, named by LLM or keywords."""

from __future__ import annotations

import asyncio

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from rft_categorizer.clustering import ClusterParams, cluster_two_levels, resolution_stability
from rft_categorizer.coverage import OTHER_TOPIC
from rft_categorizer.discovery import discover_topics
from rft_categorizer.editing import leaf_paths
from rft_categorizer.labeling import keyword_label, label_topic, parse_label


class ScriptedLLM:
    """Answers every request with the same text, as a (bad or good) model would."""

    def __init__(self, answer: str | Exception) -> None:
        self.answer = answer
        self.calls = 0

    async def complete(self, messages: list[dict[str, str]]) -> str:
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def test_discovery_finds_the_intents_without_being_told_their_number(hwu_subset):
    found = await discover_topics("hwu", hwu_subset.texts, hwu_subset.vectors)
    clusters = found.clusters
    n_fine = len(set(clusters.fine.tolist()) - {-1})
    n_coarse = len(set(clusters.coarse.tolist()) - {-1})
    # 12 intents in 6 scenarios; measured: 12 fine and 7 coarse clusters, NMI 0.90 / 0.84
    assert 9 <= n_fine <= 16
    assert 4 <= n_coarse <= 10
    assert normalized_mutual_info_score(hwu_subset.fine, clusters.fine) > 0.8
    assert adjusted_rand_score(hwu_subset.fine, clusters.fine) > 0.7
    assert normalized_mutual_info_score(hwu_subset.coarse, clusters.coarse) > 0.7
    assert clusters.outlier_share < 0.05


async def test_discovered_tree_has_unique_snake_case_names_and_examples(hwu_subset):
    found = await discover_topics("hwu", hwu_subset.texts, hwu_subset.vectors)
    hierarchy = found.hierarchy
    top_names = [t.name for t in hierarchy.topics]
    assert len(top_names) == len(set(top_names))
    for topic in hierarchy.topics:
        assert topic.description
        assert 1 <= len(topic.examples) <= 5
        assert len(topic.children) != 1  # a parent with one child is folded into a leaf
        names = [c.name for c in topic.children]
        assert len(names) == len(set(names))
        assert all(set(c.examples) <= set(hwu_subset.texts) for c in topic.children)
    assert found.labels_from_llm == 0 and found.labels_from_keywords > 0
    # every prompt is on a leaf of the tree (or in "other")
    leaves = set(leaf_paths(hierarchy)) | {(OTHER_TOPIC,)}
    assert set(found.paths) <= leaves
    assert len(found.paths) == len(hwu_subset.texts)


async def test_small_clusters_go_to_other(hwu_subset, embed):
    strays = ["what is the boiling point of tungsten", "recite a limerick about dolphins"]
    texts = hwu_subset.texts + strays
    vectors = np.vstack([hwu_subset.vectors, embed(strays)])
    found = await discover_topics("hwu", texts, vectors)
    assert found.paths[-1] == (OTHER_TOPIC,)
    assert found.hierarchy.topics[-1].name == OTHER_TOPIC


async def test_llm_labels_are_used_when_the_answer_is_valid(hwu_subset):
    llm = ScriptedLLM(
        'Sure! ```json\n{"name": "Alarm Clock", "description": "Setting alarms."}\n```'
    )
    found = await discover_topics("hwu", hwu_subset.texts, hwu_subset.vectors, labeler=llm)
    assert llm.calls > 0
    assert found.labels_from_llm == llm.calls
    names = [t.name for t in found.hierarchy.topics if t.name != OTHER_TOPIC]
    # all answers were the same: names are made unique per parent
    assert names[0] == "alarm_clock" and names[1] == "alarm_clock_2"
    assert found.hierarchy.topics[0].description == "Setting alarms."


async def test_garbage_or_failing_llm_falls_back_to_keywords():
    keywords = ["alarm", "wake", "alarm set"]
    examples = ["wake me up at seven", "set an alarm for six am"]
    for answer in [
        "I think this is about alarms.",
        '{"name": "", "description": "x"}',
        '{"name": "topic"}',
        '{"name": "a very long name that just keeps going on and on"}',
        "{not json",
        '["alarm"]',
        TimeoutError("slow model"),
    ]:
        label = await label_topic(keywords, examples, ScriptedLLM(answer))
        assert label == keyword_label(keywords, examples)
        assert label.name == "alarm_wake_set" and not label.from_llm


async def test_slow_llm_is_cut_off_by_the_timeout():
    class Sleeper:
        async def complete(self, messages):
            await asyncio.sleep(5)
            return '{"name": "late"}'

    label = await label_topic(["pizza", "order"], ["order a pizza"], Sleeper(), timeout_s=0.05)
    assert label.name == "pizza_order" and not label.from_llm


def test_parse_label_takes_the_first_usable_object_and_trims_the_description():
    answer = 'x {"foo": 1} then {"name": "Card-Arrival", "description": "' + "a " * 200 + '"}'
    label = parse_label(answer)
    assert label is not None
    assert label.name == "card_arrival"
    assert len(label.description) <= 200


def test_resolutions_are_chosen_from_the_data_when_not_given(hwu_subset):
    clusters = cluster_two_levels(hwu_subset.vectors)
    stability = clusters.stability
    assert stability is not None and set(stability) <= set(ClusterParams().resolutions)
    # the leaf level is the most stable resolution at or above standard modularity (1), the
    # coarse level the most stable one at or below 1 and under half the leaf's
    at_or_above = {r: a for r, a in stability.items() if r >= 1}
    assert clusters.fine_resolution == max(at_or_above, key=at_or_above.__getitem__)
    below = {r: a for r, a in stability.items() if r <= min(1, clusters.fine_resolution / 2)}
    assert clusters.coarse_resolution == max(below, key=below.__getitem__)


def test_given_resolutions_are_used_without_a_search(hwu_subset):
    params = ClusterParams(fine_resolution=3.0, coarse_resolution=0.5)
    clusters = cluster_two_levels(hwu_subset.vectors, params)
    assert clusters.stability is None
    assert (clusters.fine_resolution, clusters.coarse_resolution) == (3.0, 0.5)


def test_a_resolution_that_makes_one_cluster_or_singletons_is_no_candidate(hwu_subset):
    # two partitions into one cluster, or into singletons, agree perfectly whatever the data
    stability = resolution_stability(
        hwu_subset.vectors[:120], ClusterParams(), resolutions=(0.001, 1.0, 10_000.0)
    )
    assert set(stability) == {1.0}


def test_a_user_who_knows_there_are_more_topics_gets_at_least_that_many_leaves(hwu_subset):
    def leaves(clusters) -> int:
        return len(set(clusters.fine.tolist()) - {-1})

    chosen = cluster_two_levels(hwu_subset.vectors)
    asked = cluster_two_levels(hwu_subset.vectors, ClusterParams(min_leaves=leaves(chosen) + 8))
    assert leaves(asked) >= leaves(chosen) + 8
    assert asked.fine_resolution > chosen.fine_resolution
    # a bound the data's own choice already meets changes nothing
    met = cluster_two_levels(hwu_subset.vectors, ClusterParams(min_leaves=leaves(chosen)))
    assert met.fine_resolution == chosen.fine_resolution
