"""Topic names as a person would give them: a phrase the prompts use, not a string of keywords.

c-TF-IDF's top words are each distinctive but read as a list ("yes_id_ahead"); a person names a
group with one phrase its members say ("card arrival", "cancel flight"). The candidates are
word runs of the texts with no stop word inside (1 to 3 words, so no phrase spans a removed
"my" or "please"); c-TF-IDF keeps those that set the cluster apart; the embedder ranks them by
how close each phrase lies to the cluster's centroid, with maximal marginal relevance so that
the second and third phrases add something the first did not say (KeyBERT's method, on the
vectors the platform already has).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from rft_categorizer.keywords import STOP_WORDS

Embed = Callable[[list[str]], NDArray[np.float32]]

_WORD = re.compile(r"[a-zA-Z][a-zA-Z0-9']*")
_BREAK = re.compile(r"[.,;:!?()\[\]{}\"\n]+")  # a phrase does not run across these
_STOP = frozenset(STOP_WORDS)


def phrase_runs(text: str, max_words: int = 3) -> set[str]:
    """The n-grams (1..max_words) of ``text`` that hold no stop word and cross no punctuation,
    lower-cased."""
    words: list[str] = []
    for piece in _BREAK.split(text):
        words += [w.lower().replace("'", "") for w in _WORD.findall(piece)] + [""]
    phrases: set[str] = set()
    run: list[str] = []
    for word in [*words, ""]:
        if word and word not in _STOP and len(word) > 1:
            run.append(word)
            continue
        for size in range(1, max_words + 1):
            for start in range(len(run) - size + 1):
                phrases.add(" ".join(run[start : start + size]))
        run = []
    return phrases


def distinctive_phrases(
    clusters: Mapping[int, Sequence[str]], per_cluster: int = 20, max_words: int = 3
) -> dict[int, list[tuple[str, float]]]:
    """Per cluster, its ``per_cluster`` phrases of highest class-based TF-IDF: the share of
    the cluster's texts that use the phrase, times how rare the phrase is across clusters.
    A longer phrase counts only where it is as frequent as its words (else its words say it)."""
    used = {c: Counter(p for t in texts for p in phrase_runs(t, max_words)) for c, texts in
            clusters.items()}
    clusters_using: Counter[str] = Counter()
    for counts in used.values():
        clusters_using.update(counts.keys())
    n_clusters = max(len(clusters), 1)
    found: dict[int, list[tuple[str, float]]] = {}
    for c, counts in used.items():
        size = max(len(clusters[c]), 1)
        scored = []
        for phrase, count in counts.items():
            if count < 2 and size > 2:
                continue  # said once: one prompt's wording, not the group's
            share = count / size
            rarity = np.log1p(n_clusters / clusters_using[phrase])
            scored.append((phrase, share * rarity))
        scored.sort(key=lambda item: (-item[1], item[0]))
        found[c] = scored[:per_cluster]
    return found


def mmr_phrases(
    candidates: Sequence[str],
    candidate_vectors: NDArray[np.float32],
    centroid: NDArray[np.float32],
    top_n: int = 3,
    diversity: float = 0.5,
) -> list[str]:
    """Maximal marginal relevance: the phrase nearest the centroid first, then phrases near it
    but unlike those already chosen."""
    if not len(candidates):
        return []
    relevance = candidate_vectors @ centroid
    chosen = [int(np.argmax(relevance))]
    nearest = candidate_vectors @ candidate_vectors[chosen[0]]
    while len(chosen) < min(top_n, len(candidates)):
        score = (1 - diversity) * relevance - diversity * nearest
        score[chosen] = -np.inf
        pick = int(np.argmax(score))
        chosen.append(pick)
        nearest = np.maximum(nearest, candidate_vectors @ candidate_vectors[pick])
    return [candidates[i] for i in chosen]


def cluster_keyphrases(
    clusters: Mapping[int, Sequence[str]],
    centroids: Mapping[int, NDArray[np.float32]],
    embed: Embed | None,
    top_n: int = 3,
    candidates_per_cluster: int = 20,
) -> dict[int, list[str]]:
    """Per cluster, ``top_n`` keyphrases: distinctive candidates, chosen by MMR around the
    cluster's centroid when an embedder is given, else in c-TF-IDF order."""
    candidates = distinctive_phrases(clusters, candidates_per_cluster)
    if embed is None:
        return {c: [p for p, _ in scored[:top_n]] for c, scored in candidates.items()}
    # every distinct phrase is embedded once, for all the clusters that propose it
    phrases = sorted({p for scored in candidates.values() for p, _ in scored})
    vectors = embed(phrases) if phrases else np.zeros((0, 1), dtype=np.float32)
    row = {p: i for i, p in enumerate(phrases)}
    found: dict[int, list[str]] = {}
    for c, scored in candidates.items():
        names = [p for p, _ in scored]
        if not names:
            found[c] = []
            continue
        centroid = np.asarray(centroids[c], dtype=np.float32)
        centroid = centroid / max(float(np.linalg.norm(centroid)), 1e-12)
        found[c] = mmr_phrases(names, vectors[[row[p] for p in names]], centroid, top_n)
    return found
