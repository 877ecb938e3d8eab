"""Step G contracts: grader configs in OpenAI's grader schema, so a config moves as it is.

Templates inside ``input``/``reference`` use ``{{item.x}}``, ``{{sample.output_text}}``,
``{{sample.output_json.x}}`` and ``{{sample.output_tools}}``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _GraderBase(BaseModel):
    # OpenAI adds fields over time; refusing unknown ones would break configs moved between
    # platforms, so extra keys are kept and ignored.
    model_config = ConfigDict(extra="allow")

    name: str


class StringCheckGrader(_GraderBase):
    type: Literal["string_check"] = "string_check"
    input: str
    reference: str
    operation: Literal["eq", "ne", "like", "ilike"]


SimilarityMetric = Literal[
    "fuzzy_match", "bleu", "gleu", "meteor", "cosine",
    "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
]


class TextSimilarityGrader(_GraderBase):
    type: Literal["text_similarity"] = "text_similarity"
    input: str
    reference: str
    evaluation_metric: SimilarityMetric
    pass_threshold: float | None = None


class JudgeMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant"]
    content: str
    type: Literal["message"] | None = None


class SamplingParams(BaseModel):
    model_config = ConfigDict(extra="allow")

    temperature: float | None = None
    top_p: float | None = None
    max_completions_tokens: int | None = None
    seed: int | None = None


class ScoreModelGrader(_GraderBase):
    type: Literal["score_model"] = "score_model"
    model: str
    input: list[JudgeMessage]
    range: tuple[float, float] = (0.0, 1.0)
    sampling_params: SamplingParams | None = None


class LabelModelGrader(_GraderBase):
    type: Literal["label_model"] = "label_model"
    model: str
    input: list[JudgeMessage]
    labels: list[str] = Field(min_length=1)
    passing_labels: list[str] = Field(min_length=1)


class PythonGrader(_GraderBase):
    type: Literal["python"] = "python"
    source: str = Field(description="defines grade(sample, item) -> float")
    image_tag: str | None = None


class MultiGrader(_GraderBase):
    type: Literal["multi"] = "multi"
    graders: dict[str, Grader]
    calculate_output: str = Field(description="formula over the sub-graders' names")


Grader = Annotated[
    StringCheckGrader
    | TextSimilarityGrader
    | ScoreModelGrader
    | LabelModelGrader
    | PythonGrader
    | MultiGrader,
    Field(discriminator="type"),
]

MultiGrader.model_rebuild()


class GraderConfig(BaseModel):
    """``grader_config.json``: one grader (often a multi) plus where it came from."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    grader: Grader
    preset: str | None = None
