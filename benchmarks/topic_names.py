"""Topic name quality on labelled intent sets: our names next to BERTopic's default names.

Each set's train split is grouped by its gold intent, and every namer names the same groups, so
the figure measures naming alone (discovery's own errors are benchmarks/topics.py's business):

- ours: the keyphrase the platform's embedder ranks first among distinctive stop-word-free
  n-grams (maximal marginal relevance around the group's centroid; keyphrases.py);
- ours before: the name from the top c-TF-IDF keywords (what discovery used until now);
- BERTopic: its default topic name (``<id>_<w1>_<w2>_<w3>_<w4>``, its c-TF-IDF words, the id
  dropped) on the same groups (BERTopic with the groups as its clusters, no UMAP or HDBSCAN).

Score: content-word overlap between a name and the gold intent name ("card_arrival",
"lost_or_stolen_phone"; SNIPS' CamelCase split into words, ATIS' "atis_" prefix dropped), words
lower-cased, Porter-stemmed, stop words dropped: precision (the
share of the name's words found in the gold name), recall (the share of the gold name's words
found in the name), F1, and the share of names that share at least one word with the gold one;
means over intents.

    HF_HUB_OFFLINE=1 python benchmarks/topic_names.py --cache /tmp/v [--sets DIR] [--max-rows N]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from nltk.stem import PorterStemmer
from numpy.typing import NDArray
from topics import (
    DEFAULT_MODEL,
    Dataset,
    Encoder,
    banking77,
    embedder,
    hwu64,
    sample_rows,
    subsample,
    unseen_sets,
)

from rft_categorizer.keyphrases import cluster_keyphrases
from rft_categorizer.keywords import STOP_WORDS, cluster_keywords, keyword_name
from rft_categorizer.labeling import phrase_label

_STEM = PorterStemmer()
_STOP = frozenset(STOP_WORDS)


def content_words(name: str) -> set[str]:
    # gold names come as snake_case, CamelCase (SNIPS: AddToPlaylist), "atis_flight#atis_airfare"
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("atis_", " ")
    words = re.findall(r"[a-z0-9]+", spaced.lower().replace("_", " "))
    return {_STEM.stem(w) for w in words if w not in _STOP and not w.isdigit()}


def overlap(names: Sequence[str], gold: Sequence[str]) -> tuple[float, float, float, float]:
    precision, recall, f1, hit = [], [], [], []
    for name, truth in zip(names, gold, strict=True):
        said, meant = content_words(name), content_words(truth)
        shared = len(said & meant)
        p = shared / len(said) if said else 0.0
        r = shared / len(meant) if meant else 0.0
        precision.append(p)
        recall.append(r)
        f1.append(2 * p * r / (p + r) if p + r else 0.0)
        hit.append(float(shared > 0))
    return (float(np.mean(precision)), float(np.mean(recall)), float(np.mean(f1)),
            float(np.mean(hit)))


def bertopic_names(texts: list[str], labels: list[int], vectors: NDArray[np.float32]) -> list[str]:
    from bertopic import BERTopic
    from bertopic.cluster import BaseCluster
    from bertopic.dimensionality import BaseDimensionalityReduction
    from sklearn.feature_extraction.text import CountVectorizer

    model = BERTopic(
        umap_model=BaseDimensionalityReduction(),
        hdbscan_model=BaseCluster(),
        vectorizer_model=CountVectorizer(stop_words="english"),
    )
    model.fit(texts, embeddings=vectors, y=np.asarray(labels))
    info = model.get_topic_info().set_index("Topic")["Name"]
    # BERTopic renumbers topics by size: a group's topic is the one its documents were given
    assigned = np.asarray(model.topics_)
    given = np.asarray(labels)
    names = []
    for c in sorted(set(labels)):
        topic = int(np.bincount(assigned[given == c] + 1).argmax()) - 1
        # BERTopic's default name is "<topic id>_<word>_<word>_<word>_<word>"
        names.append(str(info[topic]).split("_", 1)[1] if topic in info.index else "")
    return names


def run(
    data: Dataset, encode: Encoder, max_rows: int | None, with_bertopic: bool
) -> list[tuple[str, str, tuple[float, float, float, float], float]]:
    vectors = encode.rows(data.train, sample_rows(len(data.train.texts), max_rows))
    split = subsample(data.train, max_rows)
    intents = sorted(set(split.fine))
    index = {intent: i for i, intent in enumerate(intents)}
    labels = [index[f] for f in split.fine]
    groups = {i: [t for t, label in zip(split.texts, labels, strict=True) if label == i]
              for i in range(len(intents))}
    rows = np.asarray(labels)
    centroids = {i: vectors[rows == i].mean(axis=0) for i in groups}
    results = []

    start = time.perf_counter()
    keywords = cluster_keywords(split.texts, labels)
    before = [keyword_name(keywords[i]) for i in range(len(intents))]
    results.append(("ours before (c-TF-IDF words)", before, time.perf_counter() - start))

    start = time.perf_counter()
    phrases = cluster_keyphrases(groups, centroids, encode)
    ours = [phrase_label(phrases[i], keywords[i], groups[i][:1]).name for i in range(len(intents))]
    results.append(("ours (MMR keyphrase)", ours, time.perf_counter() - start))

    if with_bertopic:
        start = time.perf_counter()
        theirs = bertopic_names(split.texts, labels, vectors)
        results.append(("BERTopic default names", theirs, time.perf_counter() - start))

    print(f"\n== names: {data.name} train, {len(split.texts):,} utterances, "
          f"{len(intents)} gold intents ==")
    scored = []
    for method, names, seconds in results:
        score = overlap(names, intents)
        scored.append((data.name, method, score, seconds))
        print(f"{method:30s} precision {score[0]:.3f} recall {score[1]:.3f} F1 {score[2]:.3f} "
              f"any word shared {score[3]:6.1%} | {seconds:6.1f} s")
    shown = np.random.default_rng(0).choice(len(intents), min(6, len(intents)), replace=False)
    for i in shown:
        line = " | ".join(f"{names[i]}" for _, names, _ in results)
        print(f"   gold {intents[i]:28s} -> {line}")
    return scored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, help="keep embedded vectors in this folder")
    parser.add_argument("--sets", type=Path, help="folder of the unseen sets (topics.py)")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--max-rows", type=int, help="subsample each train split")
    parser.add_argument("--no-bertopic", action="store_true")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at start;"
          f" python {sys.version.split()[0]}; model {args.model}")
    encode = embedder(args.cache, args.model, args.threads)
    all_scores = []
    for data in [banking77(), hwu64()] + (unseen_sets(args.sets) if args.sets else []):
        if args.only and data.name not in args.only:
            continue
        all_scores += run(data, encode, args.max_rows, not args.no_bertopic)
    print("\n== name F1 against the gold intent names, every set ==")
    for name in dict.fromkeys(s[0] for s in all_scores):
        cells = "  ".join(f"{m}: {sc[2]:.3f}" for n, m, sc, _ in all_scores if n == name)
        print(f"{name:18s} {cells}")


if __name__ == "__main__":
    main()
