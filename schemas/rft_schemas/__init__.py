"""rft-schemas: every record that crosses a Kafka topic or an HTTP API of the platform."""

from rft_schemas.base import Contract, Passthrough
from rft_schemas.conversation import (
    ContentPart,
    Conversation,
    FunctionCall,
    FunctionSpec,
    Message,
    ToolCall,
    ToolSpec,
)
from rft_schemas.generation import (
    GenerationFailure,
    GenerationJob,
    GenerationRequest,
    LeakageMove,
    QualitySettings,
    SplitManifest,
    SyntheticPrompt,
    TopicProgress,
    ValidationCheck,
)
from rft_schemas.grader import (
    Grader,
    GraderConfig,
    GraderErrors,
    GradeResult,
    GraderRunMetadata,
    GraderRunRequest,
    GraderRunResponse,
    GraderValidateResponse,
    JudgeContentPart,
    JudgeMessage,
    LabelModelGrader,
    MultiGrader,
    PythonGrader,
    ScoreModelGrader,
    StringCheckGrader,
    TextSimilarityGrader,
    TokenUsage,
    ValidationIssue,
)
from rft_schemas.rollouts import (
    DryRunJob,
    DryRunReport,
    DryRunRequest,
    DryRunStatus,
    Finding,
    Rollout,
    RolloutRequest,
    Score,
    ScoreStats,
    Verdict,
)
from rft_schemas.topics import (
    CategorizationMethod,
    CategorizedPrompt,
    CoverageReport,
    EmbeddedPrompt,
    HierarchySource,
    SpreadStats,
    Topic,
    TopicCoverage,
    TopicHierarchy,
)
from rft_schemas.traces import (
    Lineage,
    RawTrace,
    Rejection,
    RejectionReason,
    SanitizedPrompt,
    SanitizeReport,
    SourceLocation,
    TokenStats,
    TraceFormat,
)
from rft_schemas.training import EvalComparison, JobStatus, TopicDelta, TrainingEvent, TrainingJob

__all__ = [
    "CategorizationMethod", "CategorizedPrompt", "ContentPart", "Contract", "Conversation",
    "CoverageReport", "DryRunJob", "DryRunReport", "DryRunRequest", "DryRunStatus",
    "EmbeddedPrompt", "EvalComparison", "Finding", "FunctionCall",
    "FunctionSpec", "GenerationFailure", "GenerationJob", "GenerationRequest", "GradeResult", "Grader", "GraderConfig", "GraderErrors",
    "GraderRunMetadata", "GraderRunRequest", "GraderRunResponse", "GraderValidateResponse",
    "HierarchySource", "JobStatus", "JudgeContentPart", "JudgeMessage", "LabelModelGrader",
    "LeakageMove", "Lineage", "Message", "MultiGrader", "Passthrough", "PythonGrader",
    "QualitySettings", "RawTrace", "Rejection", "RejectionReason", "Rollout", "RolloutRequest",
    "SanitizeReport", "SanitizedPrompt", "Score", "ScoreModelGrader", "ScoreStats",
    "SourceLocation", "SplitManifest", "SpreadStats", "StringCheckGrader", "SyntheticPrompt",
    "TextSimilarityGrader", "TokenStats", "TokenUsage", "ToolCall", "ToolSpec", "Topic",
    "TopicCoverage", "TopicDelta", "TopicProgress", "TopicHierarchy", "TraceFormat", "TrainingEvent", "TrainingJob",
    "ValidationCheck", "ValidationIssue", "Verdict",
]
