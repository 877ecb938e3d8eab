"""Keywords per cluster (class-based TF-IDF) and representative examples.

c-TF-IDF treats all the texts of a cluster as one document: a term weighs by how often the
cluster uses it, against how often every cluster does, so words that all clusters share
("please", "my") sink and the words that set a cluster apart rise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

_TOKEN = r"(?u)\b[a-zA-Z][a-zA-Z0-9]+\b"
# Words every request uses ("I want you to please tell me..."): they say how, not what.
_REQUEST_WORDS = {
    "want", "like", "need", "please", "tell", "make", "let", "know", "right", "just", "does",
    "did", "doing", "able", "help", "hi", "hello", "thanks", "thank", "ok", "okay", "im", "ve",
    "don", "didn", "doesn", "isn", "can", "could", "would", "should", "way", "use", "using",
}
STOP_WORDS = sorted(ENGLISH_STOP_WORDS | _REQUEST_WORDS)


def cluster_keywords(
    texts: Sequence[str], labels: Sequence[int], top_n: int = 8
) -> dict[int, list[str]]:
    """The ``top_n`` c-TF-IDF terms (words and word pairs) of each label in ``labels``."""
    classes = sorted(set(labels))
    documents = [
        " ".join(t for t, label in zip(texts, labels, strict=True) if label == c) for c in classes
    ]
    min_df = 2 if len(classes) > 3 else 1
    vectorizer = CountVectorizer(
        stop_words=STOP_WORDS, ngram_range=(1, 2), token_pattern=_TOKEN, min_df=min_df
    )
    try:
        counts = vectorizer.fit_transform(documents).toarray().astype(np.float64)
    except ValueError:  # every word was a stop word, or the clusters are empty
        return {c: [] for c in classes}
    terms = vectorizer.get_feature_names_out()
    term_freq = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    average_words = counts.sum() / len(classes)
    idf = np.log1p(average_words / np.maximum(counts.sum(axis=0), 1.0))
    weights = term_freq * idf
    keywords: dict[int, list[str]] = {}
    for row, c in enumerate(classes):
        order = np.argsort(-weights[row])
        keywords[c] = [str(terms[i]) for i in order[:top_n] if weights[row, i] > 0]
    return keywords


def keyword_name(keywords: Sequence[str], max_words: int = 3) -> str:
    """A snake_case name from the leading keywords, without repeating a word."""
    words: list[str] = []
    for keyword in keywords:
        for word in keyword.lower().split():
            if word not in words:
                words.append(word)
        if len(words) >= max_words:
            break
    name = "_".join(words[:max_words])
    return snake_case(name) or "topic"


def snake_case(text: str, max_length: int = 40) -> str:
    """``"Card Arrival!"`` -> ``card_arrival``; empty when nothing usable is left."""
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if len(name) > max_length:
        name = name[:max_length].rsplit("_", 1)[0] or name[:max_length]
    return name.strip("_")


def representative_indices(
    vectors: NDArray[np.float32], count: int = 5, diversity: float = 0.3
) -> list[int]:
    """Rows that stand for a cluster: the one nearest its centroid first, then rows that are
    still near the centroid but unlike those already chosen (maximal marginal relevance)."""
    if len(vectors) == 0:
        return []
    centroid = vectors.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
    relevance = vectors @ centroid
    chosen = [int(np.argmax(relevance))]
    nearest_chosen = vectors @ vectors[chosen[0]]
    while len(chosen) < min(count, len(vectors)):
        score = (1 - diversity) * relevance - diversity * nearest_chosen
        score[chosen] = -np.inf
        pick = int(np.argmax(score))
        chosen.append(pick)
        nearest_chosen = np.maximum(nearest_chosen, vectors @ vectors[pick])
    return chosen
