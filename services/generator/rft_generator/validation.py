"""The four checks a candidate passes before it is kept, each a value with a reason.

1. structure: the synthetic prompt goes through the sanitizer's own core, so it fails for the
   same reasons (and under the same codes) as a real trace would;
2. novelty: its nearest neighbour among real and accepted synthetic prompts is below the cosine
   threshold (a copy of one of its own few-shot examples is counted apart, as copy_of_example);
3. topic: categorized again, it lands in the target topic with enough confidence;
4. quality (optional): an LLM judge's score is above the threshold.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import orjson

from rft_runtime.llm import LLMClient
from rft_sanitizer import Policy, sanitize
from rft_schemas import (
    GenerationFailure,
    Message,
    RawTrace,
    Rejection,
    SanitizedPrompt,
    SourceLocation,
    ToolSpec,
    ValidationCheck,
)

STRUCTURE, NOVELTY, TOPIC, QUALITY = "structure", "novelty", "topic", "quality"


def check_structure(
    candidate_id: str,
    dataset: str,
    messages: Sequence[Message],
    tools: Sequence[ToolSpec] | None,
    source: SourceLocation,
    policy: Policy,
) -> SanitizedPrompt | ValidationCheck:
    """The sanitized synthetic prompt, or the failed check with the sanitizer's reason code."""
    record: dict[str, object] = {
        "messages": [m.model_dump(mode="json", exclude_none=True) for m in messages]
    }
    if tools:
        record["tools"] = [t.model_dump(mode="json", exclude_none=True) for t in tools]
    raw = RawTrace(
        id=candidate_id, dataset=dataset, source=source, payload=orjson.dumps(record).decode()
    )
    outcome = sanitize(raw, policy)
    if isinstance(outcome, Rejection):
        return ValidationCheck(name=STRUCTURE, passed=False, detail=outcome.reason.value)
    return outcome.prompts[0]


def novelty_check(
    nearest_cosine: float, nearest_is_example: bool, max_cosine: float, copy_cosine: float
) -> tuple[ValidationCheck, GenerationFailure | None]:
    passed = nearest_cosine < max_cosine
    failure = None
    if nearest_is_example and nearest_cosine >= copy_cosine:
        failure = GenerationFailure.COPY_OF_EXAMPLE
    elif not passed:
        failure = GenerationFailure.NEAR_DUPLICATE
    detail = f"nearest cosine {nearest_cosine:.3f}" + (" (a seed example)" if nearest_is_example
                                                        else "")
    return ValidationCheck(
        name=NOVELTY, passed=failure is None, score=round(nearest_cosine, 4), detail=detail
    ), failure


def topic_check(
    landed: str, confidence: float, target: str, min_confidence: float
) -> tuple[ValidationCheck, GenerationFailure | None]:
    right = landed == target or landed.startswith(target + "/")
    passed = right and confidence >= min_confidence
    return ValidationCheck(
        name=TOPIC, passed=passed, score=round(confidence, 4), detail=f"landed in {landed}"
    ), None if passed else GenerationFailure.WRONG_TOPIC


JUDGE_PROMPT = (
    "Rate this request that a user sent to an AI assistant, from 1 (meaningless or not a "
    "request) to 10 (clear, realistic and answerable). Answer with the number only.\n\n"
    "Request: {request}"
)
_NUMBER = re.compile(r"\b(10|[1-9])\b")


async def judge_score(client: LLMClient, request: str, seed: int) -> float | None:
    """The judge's score in 0..1, or None when its answer holds no score."""
    response = await client.complete(
        [Message(role="user", content=JUDGE_PROMPT.format(request=request))],
        temperature=0.0, max_tokens=4, seed=seed,
    )
    found = _NUMBER.search(response.choices[0].message.content or "" if response.choices else "")
    return int(found.group(1)) / 10 if found else None


def quality_check(score: float | None, min_score: float) -> tuple[ValidationCheck,
                                                                  GenerationFailure | None]:
    passed = score is not None and score >= min_score
    return ValidationCheck(
        name=QUALITY, passed=passed, score=score,
        detail="no score in the judge's answer" if score is None else "",
    ), None if passed else GenerationFailure.LOW_QUALITY
