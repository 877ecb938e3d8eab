"""Embeddings per second on the CPU, against a plain SentenceTransformer.encode; vector-store speed.

    .venv/bin/python benchmarks/embed.py [--limit N] [--threads N] [--skip-store]

Embedding input: the user utterances of examples/data/intent/banking77/test.csv, the last user
turns of examples/data/drone_training.jsonl and every user turn of the tau2 airline
simulations. The baseline is ``SentenceTransformer.encode`` (normalized) of the same texts,
model and batch size in the same process; ours is the embedder's CPU path (the model exported
once to ONNX with fused attention, run by ONNX Runtime over length-sorted batches). Both get a
warm-up call first, then they alternate over chunks of 500 texts (a shared machine's load
changes during a run). The cosine of our vectors to the baseline's is the accuracy check.

Vector store: 50,000 random 384-d unit vectors with a keyword ``topic`` (50 values, indexed),
upserted in batches of 1,000, into Qdrant Edge (then optimized) and into qdrant-client's local
mode; then the mean time of a top-10 query, an exact count of one topic, and a facet of all.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rft_embedder import EmbedderSettings, load_embedder
from rft_embedder.models import (
    SentenceTransformerEmbedder,
    load_sentence_transformer,
    resolve_model_source,
)
from rft_runtime.vectorstore import CollectionSpec, IndexKind, VectorPoint, VectorStore, point_id

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
CHUNK = 500  # texts per timed call; each side sorts by length within its call


def real_texts() -> dict[str, list[str]]:
    with (DATA / "intent" / "banking77" / "test.csv").open() as file:
        banking = [row["text"] for row in csv.DictReader(file)]
    drone = []
    for line in (DATA / "drone_training.jsonl").read_text().splitlines():
        users = [m["content"] for m in json.loads(line)["messages"] if m["role"] == "user"]
        drone.append(users[-1])
    tau2 = json.loads((DATA / "tau2_airline" / "whissle_airline_run1.json").read_text())
    airline = [
        str(m["content"])
        for simulation in tau2["simulations"]
        for m in simulation["messages"]
        if m.get("role") == "user" and m.get("content")
    ]
    return {"banking77 test": banking, "drone": drone, "tau2 airline user turns": airline}


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def bench_embeddings(limit: int | None, threads: int | None, batch_size: int) -> None:
    sources = real_texts()
    texts = [text for group in sources.values() for text in group]
    # A fixed shuffle, so that --limit takes a mix of every source (banking77 is sorted by label).
    texts = [texts[i] for i in np.random.default_rng(0).permutation(len(texts))][:limit]
    print("== embeddings (CPU) ==")
    for name, group in sources.items():
        print(f"  {name}: {len(group)} texts")
    print(f"  total used: {len(texts)} texts, mean {np.mean([len(t) for t in texts]):.0f} chars")
    print(f"  batch size {batch_size} for both")
    with tempfile.TemporaryDirectory() as data_dir:
        settings = EmbedderSettings(backend="onnx", threads=threads, batch_size=batch_size)
        export_seconds, ours = timed(lambda: load_embedder(settings, Path(data_dir)))
        print(f"  ONNX export + load (once per model, cached on disk): {export_seconds:.1f} s")
        model = load_sentence_transformer(resolve_model_source(settings.model), "cpu")
        reference = SentenceTransformerEmbedder(settings.model, model, batch_size=batch_size)
        warm = texts[:64]
        reference.embed(warm)
        ours.embed(warm)
        # Interleaved in chunks, alternating which goes first, so that a change in the load
        # of a shared machine during the run falls on both sides alike.
        base_seconds = our_seconds = 0.0
        base_parts, our_parts = [], []
        for number, start in enumerate(range(0, len(texts), CHUNK)):
            chunk = texts[start : start + CHUNK]
            runs = [("base", reference), ("ours", ours)]
            for side, embedder in runs if number % 2 == 0 else runs[::-1]:
                seconds, vectors = timed(lambda e=embedder, c=chunk: e.embed(c))
                if side == "base":
                    base_seconds += seconds
                    base_parts.append(vectors)
                else:
                    our_seconds += seconds
                    our_parts.append(vectors)
        base_vectors, our_vectors = np.vstack(base_parts), np.vstack(our_parts)
    cosines = np.sum(base_vectors * our_vectors, axis=1)
    base_rate, our_rate = len(texts) / base_seconds, len(texts) / our_seconds
    print(f"  baseline SentenceTransformer.encode: {base_rate:8.1f} embeddings/s")
    print(f"  rft_embedder (ONNX Runtime, sorted): {our_rate:8.1f} embeddings/s")
    print(f"  ratio: {our_rate / base_rate:.2f}x (target >= 1.5x)")
    print(f"  cosine to the baseline vectors: min {cosines.min():.6f}, mean {cosines.mean():.6f}")


def bench_models(limit: int | None, threads: int | None, batch_size: int, other: str) -> None:
    """The default model's ONNX path against ``other``'s, alternating over the same chunks."""
    texts = [text for group in real_texts().values() for text in group]
    texts = [texts[i] for i in np.random.default_rng(0).permutation(len(texts))][:limit]
    print(f"== ONNX Runtime path, two models, {len(texts)} texts, batch size {batch_size} ==")
    with tempfile.TemporaryDirectory() as data_dir:
        models = {}
        for name in (EmbedderSettings().model, other):
            settings = EmbedderSettings(
                model=name, backend="onnx", threads=threads, batch_size=batch_size
            )
            seconds, models[name] = timed(lambda s=settings: load_embedder(s, Path(data_dir)))
            models[name].embed(texts[:64])
            print(f"  {name}: export + load {seconds:.1f} s, {models[name].dimensions} dimensions")
        spent = dict.fromkeys(models, 0.0)
        for number, start in enumerate(range(0, len(texts), CHUNK)):
            chunk = texts[start : start + CHUNK]
            order = list(models) if number % 2 == 0 else list(models)[::-1]
            for name in order:
                seconds, _ = timed(lambda n=name, c=chunk: models[n].embed(c))
                spent[name] += seconds
    rates = {name: len(texts) / seconds for name, seconds in spent.items()}
    for name, rate in rates.items():
        print(f"  {name}: {rate:8.1f} embeddings/s")
    base, theirs = rates.values()
    print(f"  ratio: {theirs / base:.2f}x the default model's rate")


def random_points(count: int, dimensions: int) -> list[VectorPoint]:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(count, dimensions)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        VectorPoint(id=point_id(f"p{i}"), vector=vectors[i], payload={"topic": f"topic_{i % 50}"})
        for i in range(count)
    ]


def mean_ms(call: Callable[[], Any], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.mean(samples)


def bench_store(label: str, store: VectorStore, points: list[VectorPoint], queries: int) -> None:
    spec = CollectionSpec("bench", 384, indexed={"topic": IndexKind.KEYWORD})
    collection = store.ensure_collection(spec)
    start = time.perf_counter()
    for i in range(0, len(points), 1000):
        collection.upsert(points[i : i + 1000])
    upsert_seconds = time.perf_counter() - start
    optimize_seconds, _ = timed(collection.optimize)
    probe = iter(points * 2)
    query_ms = mean_ms(lambda: collection.query(next(probe).vector, limit=10), queries)
    count_ms = mean_ms(lambda: collection.count({"topic": "topic_7"}), queries)
    facet_ms = mean_ms(lambda: collection.facet("topic"), max(3, queries // 10))
    assert collection.count({"topic": "topic_7"}) == len(points) // 50
    assert len(collection.facet("topic")) == 50
    print(
        f"  {label:<26} upsert {upsert_seconds:6.2f} s  optimize {optimize_seconds:5.2f} s  "
        f"top-10 query {query_ms:7.2f} ms  count {count_ms:6.2f} ms  facet {facet_ms:7.2f} ms"
    )
    store.close()


def bench_stores(count: int) -> None:
    from qdrant_client import QdrantClient

    from rft_runtime.vectorstore.edge import EdgeVectorStore
    from rft_runtime.vectorstore.server import ServerVectorStore

    print(f"== vector store: {count} random 384-d vectors, keyword payload 'topic' (50 values) ==")
    points = random_points(count, 384)
    with tempfile.TemporaryDirectory() as root:
        bench_store("Qdrant Edge (on disk)", EdgeVectorStore(Path(root)), points, 200)
    local = ServerVectorStore(QdrantClient(location=":memory:"))
    bench_store("qdrant-client local mode", local, points, 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="embed only the first N texts")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads")
    parser.add_argument("--batch-size", type=int, default=EmbedderSettings().batch_size)
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--skip-store", action="store_true")
    parser.add_argument("--against", help="time the default model's ONNX path against this "
                        "model's (a name or folder) instead of against sentence-transformers")
    args = parser.parse_args()
    import torch

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores "
        f"({len(os.sched_getaffinity(0))} usable), torch threads {torch.get_num_threads()}, "
        f"load average {os.getloadavg()[0]:.1f} (a shared machine: compare ratios, not rates)"
    )
    if args.against:
        bench_models(args.limit, args.threads, args.batch_size, args.against)
    else:
        bench_embeddings(args.limit, args.threads, args.batch_size)
    if not args.skip_store:
        bench_stores(args.points)


if __name__ == "__main__":
    main()
