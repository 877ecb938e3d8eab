"""Python grader source of the conciseness preset: completeness times a length factor.

Completeness is the share of the reference's content words (3+ letters) the answer contains;
the length factor is 1 up to ``SLACK`` times the reference's length (or ``FLOOR`` characters)
and falls as budget / length beyond it, so padding an answer never raises its score.
"""

import re
from typing import Any

SLACK = 1.5
FLOOR = 200


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.lower()) if len(w) >= 3}


def grade(sample: dict[str, Any], item: dict[str, Any]) -> float:
    answer = (sample.get("output_text") or "").strip()
    if not answer:
        return 0.0
    reference = str(item.get("reference") or "")
    wanted = _words(reference)
    completeness = len(wanted & _words(answer)) / len(wanted) if wanted else 1.0
    budget = max(FLOOR, SLACK * len(reference))
    length_factor = min(1.0, budget / len(answer))
    return completeness * length_factor
