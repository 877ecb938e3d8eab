"""The categorizer's settings (env prefix ``RFT_``), and the core parameters they make."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from rft_categorizer.categorize import DecisionRules
from rft_categorizer.classifier import ClassifierParams
from rft_categorizer.clustering import ClusterParams
from rft_runtime.settings import RuntimeSettings


class CategorizerSettings(RuntimeSettings):
    # discovery (step B)
    topics_neighbours: int = Field(default=15, ge=2, description="kNN graph degree")
    topics_fine_resolution: float | None = Field(
        default=None, gt=0, description="higher: more subtopics; unset = the most stable one"
    )
    topics_coarse_resolution: float | None = Field(
        default=None, gt=0, description="higher: more topics; unset = the most stable one"
    )
    topics_min_size: int = Field(default=5, ge=1, description="smaller clusters go to 'other'")
    topics_examples: int = Field(default=5, ge=1, description="representative prompts per topic")
    topics_label_with_llm: bool = True
    topics_label_timeout_s: float = Field(default=60.0, gt=0)
    # categorization (step C)
    categorize_review_below: float = Field(default=0.5, ge=0, le=1)
    categorize_multi_topic_ratio: float = Field(default=0.6, gt=0, le=1)
    categorize_uncategorized_below: float = Field(default=0.3, ge=-1, le=1)
    categorize_llm_second_opinion: bool = False
    categorize_spread_neighbours: int = Field(default=10, ge=1)
    categorize_max_graph_rows: int = Field(default=20_000, ge=100)
    categorizer_store: str | None = Field(
        default=None,
        description="hierarchies and categorized records: a SQLite path, or a postgresql:// URL "
        "every replica shares; unset = SQLite files under data_dir/categorizer",
    )
    # vectors of topic texts and keyphrases (the service has no model)
    categorizer_embedder_url: str | None = Field(
        default=None,
        description="the embedder service (http://embedder.rft.svc:8000): topic descriptions, "
        "examples and keyphrase candidates are embedded by its POST /v1/embed, keyed by its "
        "model's name; the service does not start without it unless its caller passes an "
        "embedder (the rft CLI's in-process model)",
    )
    categorizer_embedder_timeout_s: float = Field(
        default=30.0, gt=0, description="per embedder call"
    )
    # coverage (step D)
    coverage_highlight_below: float = Field(default=0.5, gt=0, le=1)

    def hierarchy_store_target(self) -> str | Path:
        return self.categorizer_store or self.data_dir / "categorizer" / "hierarchies.sqlite"

    def record_store_target(self) -> str | Path:
        return self.categorizer_store or self.data_dir / "categorizer" / "records.sqlite"

    def cluster_params(self) -> ClusterParams:
        return ClusterParams(
            neighbours=self.topics_neighbours,
            fine_resolution=self.topics_fine_resolution,
            coarse_resolution=self.topics_coarse_resolution,
            min_cluster_size=self.topics_min_size,
        )

    def classifier_params(self) -> ClassifierParams:
        return ClassifierParams(
            spread_neighbours=self.categorize_spread_neighbours,
            max_graph_rows=self.categorize_max_graph_rows,
        )

    def decision_rules(self) -> DecisionRules:
        return DecisionRules(
            review_below=self.categorize_review_below,
            multi_topic_ratio=self.categorize_multi_topic_ratio,
            uncategorized_below_similarity=self.categorize_uncategorized_below,
        )
