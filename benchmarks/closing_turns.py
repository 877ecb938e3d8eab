"""Closing-turn tests on a labelled set: precision and recall of "closing" for the old test
(the phrase list) and the new one (similarity to closing exemplars with all-MiniLM-L6-v2 run
from the embedder's ONNX export), on examples/data/closing_turns.jsonl: the last user turns of
the shared traces (tau2 airline, ToolACE, the drone set, the toy chat set), labelled by hand.

    python benchmarks/closing_turns.py

The new test's margin is a constant chosen on this set, so its figures here are in-sample; the
script also prints them with the margin chosen by 5-fold cross-validation (chosen on four
folds, scored on the fifth), which is the figure to expect on turns like these but unseen.
Similarity to the exemplars alone (without the phrase list in front) is printed as well.

Then the same on whole traces, the 50 tau2 airline simulations: where the old rule (the last
user turn the phrase list does not find closing, markers left in) and the sanitizer's cut
(structure, then the closing test) end each prompt: on a turn holding a control marker, on a
turn labelled closing, or on a turn the agent never answered.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LABELLED = REPO / "examples" / "data" / "closing_turns.jsonl"
TAU2 = REPO / "examples" / "data" / "tau2_airline" / "whissle_airline_run1.json"


def scores(predicted: Sequence[bool], gold: Sequence[bool]) -> tuple[float, float, int, int, int]:
    tp = sum(p and g for p, g in zip(predicted, gold, strict=True))
    fp = sum(p and not g for p, g in zip(predicted, gold, strict=True))
    fn = sum(g and not p for p, g in zip(predicted, gold, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, tp, fp, fn


def line(name: str, predicted: Sequence[bool], gold: Sequence[bool]) -> tuple[float, float]:
    p, r, tp, fp, fn = scores(predicted, gold)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    print(f"  {name:<44} precision {p:.3f}  recall {r:.3f}  F1 {f1:.3f}  "
          f"(tp {tp}, fp {fp}, fn {fn})")
    return p, r


def best_margin(
    score: Sequence[float], gold: Sequence[bool], guard: Sequence[bool | None]
) -> float:
    """The margin with the best F1 on these rows (``guard`` decides a row when not None)."""
    candidates = sorted({round(s, 4) for s in score} | {0.0})
    best, best_f1 = 0.0, -1.0
    for m in candidates:
        predicted = [g if g is not None else s > m for s, g in zip(score, guard, strict=True)]
        p, r, *_ = scores(predicted, gold)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 > best_f1:
            best, best_f1 = m, f1
    return best


def main() -> None:
    from rft_sanitizer.closing import PHRASES, is_closing_turn, strip_markers
    from rft_sanitizer.closing_semantic import (
        ExemplarTest,
        OnnxSentenceEncoder,
        asks_or_tells,
        find_export,
    )
    from rft_sanitizer.settings import SanitizerSettings

    rows = [json.loads(x) for x in LABELLED.read_text().splitlines() if x.strip()]
    texts = [r["text"] for r in rows]
    gold = [r["label"] == "closing" for r in rows]
    print(f"labelled set: {LABELLED.relative_to(REPO)}: {len(rows)} turns, "
          f"{sum(gold)} closing, {len(rows) - sum(gold)} meaningful")
    print(f"machine: {os.cpu_count()} CPU cores, python {sys.version.split()[0]}")

    began = time.perf_counter()
    old = [PHRASES(t) for t in texts]
    old_s = time.perf_counter() - began

    export = find_export(SanitizerSettings())
    if export is None:
        print("no ONNX export of all-MiniLM-L6-v2: run the embedder once (rft embed)")
        line("old: phrase list", old, gold)
        return
    encoder = OnnxSentenceEncoder(export)
    test = ExemplarTest(encoder, name="embedding")
    began = time.perf_counter()
    new = [test(t) for t in texts]
    new_s = time.perf_counter() - began

    # The parts of the new test, to see what each contributes.
    stripped = [strip_markers(t) for t in texts]
    score = [test.score(s) if s.strip() else 1.0 for s in stripped]
    question = [asks_or_tells(s) for s in stripped]
    semantic_only = [(not q) and s > test.margin for s, q in zip(score, question, strict=True)]
    guard: list[bool | None] = [
        True if (not s.strip() or is_closing_turn(s)) else (False if q else None)
        for s, q in zip(stripped, question, strict=True)
    ]

    print(f"\nclosing = positive class; margin {test.margin} (constant in closing_semantic.py)")
    p_old, r_old = line("old: phrase list", old, gold)
    p_new, r_new = line("new: phrase list, then exemplar similarity", new, gold)
    line("    exemplar similarity alone (with its guards)", semantic_only, gold)

    # Margin chosen in cross-validation: the in-sample constant's figures are optimistic.
    order = list(range(len(rows)))
    random.Random(15).shuffle(order)
    folds = [order[k::5] for k in range(5)]
    predicted_cv: list[bool] = [False] * len(rows)
    margins = []
    for k, held in enumerate(folds):
        train = [i for j, f in enumerate(folds) if j != k for i in f]
        m = best_margin([score[i] for i in train], [gold[i] for i in train],
                        [guard[i] for i in train])
        margins.append(m)
        for i in held:
            predicted_cv[i] = guard[i] if guard[i] is not None else score[i] > m
    line("new, margin by 5-fold cross-validation", predicted_cv, gold)
    print(f"    margins chosen per fold: {', '.join(f'{m:.3f}' for m in margins)}")

    print(f"\nratio new/old: precision {p_new / p_old if p_old else float('inf'):.2f}x, "
          f"recall {r_new / r_old if r_old else float('inf'):.2f}x")
    print(f"time: old {old_s * 1e6 / len(rows):.0f} us/turn, new {new_s * 1e3 / len(rows):.2f} "
          f"ms/turn (ONNX Runtime, 1 thread, cold cache)")
    wrong: list[tuple[str, Callable[[int], bool]]] = [
        ("new misses (closing, said meaningful)", lambda i: gold[i] and not new[i]),
        ("new false alarms (meaningful, said closing)", lambda i: new[i] and not gold[i]),
    ]
    for title, pick in wrong:
        picked = [i for i in range(len(rows)) if pick(i)]
        print(f"\n{title}: {len(picked)}")
        for i in picked[:12]:
            print(f"  {score[i]:+.3f}  {texts[i][:110]!r}")
    # Closing turns of unseen airline runs, as quoted in issue 15 (not in the labelled set).
    print("\nclosing turns quoted from unseen runs (old / new says closing):")
    for turn in ("You too! Thanks again for your patience and assistance. ###STOP###",
                 "Thanks, you too! ###STOP###"):
        print(f"  {PHRASES(turn)!s:<5} / {test(turn)!s:<5}  {turn!r}")
    traces(rows, test)


def traces(rows: list[dict[str, str]], semantic: Callable[[str], bool]) -> None:
    """Where prompts of the tau2 simulations end, by the old rule and by the sanitizer."""
    from dataclasses import replace

    from rft_sanitizer.closing import PHRASES, has_marker, is_closing_turn, strip_markers
    from rft_sanitizer.core import Accepted, Policy, sanitize
    from rft_sanitizer.tokens import SMOLLM2, load_token_counter
    from rft_schemas.traces import RawTrace, SourceLocation

    closing_texts = {strip_markers(r["text"]) for r in rows if r["label"] == "closing"}
    simulations = json.loads(TAU2.read_text())["simulations"]
    counter = load_token_counter(SMOLLM2, REPO / ".rft" / "tokenizers")
    # the length bound plays no part here: every simulation gives a prompt
    base = Policy(counter=counter, max_tokens=1 << 30)
    variants: dict[str, list[tuple[str, bool]]] = {"old rule": []}
    for sim in simulations:
        messages = sim["messages"]
        users = [i for i, m in enumerate(messages) if m["role"] == "user" and m.get("content")]
        cut = max((i for i in users if not is_closing_turn(messages[i]["content"])), default=None)
        if cut is not None:
            answered = any(m["role"] != "user" for m in messages[cut + 1:])
            variants["old rule"].append((messages[cut]["content"], answered))
    for name, closing in (("new: structure + phrase list", PHRASES),
                          ("new: structure + phrases + exemplars", semantic)):
        policy = replace(base, closing=closing)
        ends: list[tuple[str, bool]] = []
        for k, sim in enumerate(simulations):
            record = RawTrace(id=f"t{k}", dataset="bench",
                              source=SourceLocation(uri="tau2", line=k), payload=json.dumps(sim))
            result = sanitize(record, policy)
            if isinstance(result, Accepted):
                prompt = result.prompts[0]
                answered = any(m.role != "user" for m in prompt.reference)
                ends.append((prompt.messages[-1].text(), answered))
        variants[name] = ends
    print(f"\nprompts of the {len(simulations)} tau2 airline simulations, where they end:")
    for name, ends in variants.items():
        marker = sum(has_marker(text) for text, _ in ends)
        closing = sum(strip_markers(text) in closing_texts for text, _ in ends)
        unanswered = sum(not answered for _, answered in ends)
        print(f"  {name:<40} {len(ends)} prompts: on a control marker {marker}, on a turn "
              f"labelled closing {closing}, on a turn the agent never answered {unanswered}")


if __name__ == "__main__":
    main()
