"""Step G contracts: grader configs in OpenAI's grader schema, so a config moves as it is.

Templates inside ``input``/``reference`` use ``{{item.x}}``, ``{{sample.output_text}}``,
``{{sample.output_json.x}}`` and ``{{sample.output_tools}}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rft_schemas.base import Contract
from rft_schemas.conversation import ToolCall


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


class JudgeContentPart(BaseModel):
    """One part of a judge message: ``input_text``/``output_text`` carry ``text``; image and
    audio parts (OpenAI's ``input_image``, ``input_audio``) keep their fields as extras."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class JudgeMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant"]
    # OpenAI accepts a plain string, one content part, or a list of them.
    content: str | JudgeContentPart | list[JudgeContentPart]
    type: Literal["message"] | None = None


class SamplingParams(BaseModel):
    model_config = ConfigDict(extra="allow")

    temperature: float | None = None
    top_p: float | None = None
    max_completions_tokens: int | None = None
    seed: int | None = None
    reasoning_effort: str | None = None


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
    sampling_params: SamplingParams | None = None


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


class GraderErrors(BaseModel):
    """Why a score is not a real grade: OpenAI's ``metadata.errors`` of a grader run, as it is.

    A flag raised means the reward is 0 because of the grader or the judge, not the sample.
    """

    model_config = ConfigDict(extra="forbid")

    formula_parse_error: bool = False
    sample_parse_error: bool = False
    truncated_observation_error: bool = False
    unresponsive_reward_error: bool = False
    invalid_variable_error: bool = False
    other_error: bool = False
    python_grader_server_error: bool = False
    python_grader_server_error_type: str | None = None
    python_grader_runtime_error: bool = False
    python_grader_runtime_error_details: str | None = None
    model_grader_server_error: bool = False
    model_grader_refusal_error: bool = False
    model_grader_parse_error: bool = False
    model_grader_server_error_details: str | None = None

    def flags(self) -> dict[str, bool]:
        """The boolean flags only (``Score.errors`` carries these)."""
        return {k: v for k, v in self.model_dump().items() if isinstance(v, bool)}

    def any(self) -> bool:
        # Called once per graded sample: read the flags directly, no model_dump.
        return (self.formula_parse_error or self.sample_parse_error
                or self.truncated_observation_error or self.unresponsive_reward_error
                or self.invalid_variable_error or self.other_error
                or self.python_grader_server_error or self.python_grader_runtime_error
                or self.model_grader_server_error or self.model_grader_refusal_error
                or self.model_grader_parse_error)


class TokenUsage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0


class GradeResult(Contract):
    """One sample graded: the shape of OpenAI's grader run response, flattened."""

    name: str
    type: str
    reward: float
    sub_rewards: dict[str, float] = Field(default_factory=dict)
    errors: GraderErrors = Field(default_factory=GraderErrors)
    error_details: list[str] = Field(
        default_factory=list, description="human-readable causes of the raised flags"
    )
    token_usage: TokenUsage | None = None
    execution_time: float = 0.0


class ValidationIssue(Contract):
    """One reason a grader config is refused, with the JSON path of the offending value."""

    path: str = Field(description="JSON path into the submitted config, e.g. $.grader.input")
    code: str = Field(description="closed set: unknown_type, invalid_field, unknown_name, ...")
    message: str
    position: int | None = Field(default=None, description="0-based offset in a formula/template")


class GraderRunRequest(BaseModel):
    """``POST /v1/graders:run``: OpenAI's run-grader body. ``output_tools`` is this platform's
    addition (OpenAI's ``model_sample`` is text only), so tool-call graders can be previewed."""

    model_config = ConfigDict(extra="forbid")

    grader: Grader
    model_sample: str
    item: dict[str, Any] = Field(default_factory=dict)
    output_tools: list[ToolCall] = Field(default_factory=list)


class GraderRunMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    type: str
    errors: GraderErrors
    execution_time: float
    scores: dict[str, float] = Field(default_factory=dict)
    token_usage: TokenUsage | None = None
    sampled_model_name: str | None = None


class GraderRunResponse(BaseModel):
    """OpenAI's run-grader answer, field for field."""

    model_config = ConfigDict(extra="forbid")

    reward: float
    metadata: GraderRunMetadata
    sub_rewards: dict[str, float] = Field(default_factory=dict)
    model_grader_token_usage_per_model: dict[str, TokenUsage] = Field(default_factory=dict)


class GraderValidateResponse(BaseModel):
    """``POST /v1/graders:validate``: OpenAI answers the grader back when it is valid; here the
    issues (empty when valid) come with it, each with its JSON path."""

    model_config = ConfigDict(extra="forbid")

    grader: dict[str, Any]
    issues: list[ValidationIssue] = Field(default_factory=list)


class GraderPresetRequest(BaseModel):
    """``POST /v1/graders:preset``: a dataset's rows (train split lines, the grader's items);
    the grader answers the preset they call for (step G when no grader is given)."""

    model_config = ConfigDict(extra="forbid")

    rows: list[dict[str, Any]] = Field(min_length=1, description="train split rows")
    preset: str | None = Field(
        default=None, description="a preset by name; unset = chosen from the rows (tool usage "
        "when they carry tools, correctness otherwise)",
    )


class GraderPresetResponse(BaseModel):
    """The preset's ``grader_config.json`` (OpenAI's JSON, no nulls), checked against the
    rows' item fields: ``issues`` is empty when every field it names is there."""

    model_config = ConfigDict(extra="forbid")

    preset: str
    config: dict[str, Any] = Field(description="grader_config.json as written to disk")
    dataset_fields: list[str] = Field(description="item fields the rows carry")
    issues: list[ValidationIssue] = Field(default_factory=list)
