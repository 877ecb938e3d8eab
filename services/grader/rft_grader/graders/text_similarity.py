from __future__ import annotations

import asyncio
from pathlib import Path

from rft_grader import metrics
from rft_grader.graders.base import BaseGrader, Graded, Item, Outcome
from rft_grader.judging import Embedder
from rft_grader.sample import Sample
from rft_schemas.grader import TextSimilarityGrader

_ROUGE_KEYS = {f"rouge_{n}": f"rouge{n}" for n in range(1, 6)} | {"rouge_l": "rougeL"}


class TextSimilarity(BaseGrader):
    type = "text_similarity"

    def __init__(self, config: TextSimilarityGrader, *, embedder: Embedder | None = None,
                 wordnet_dir: Path | None = None, max_chars: int = 5_000) -> None:
        super().__init__(config.name)
        self.config = config
        self.embedder = embedder
        self.wordnet_dir = wordnet_dir
        self.max_chars = max_chars

    async def _grade(self, out: Outcome, sample: Sample, item: Item) -> Graded:
        # A megabyte answer must not stall a worker: the metrics are quadratic in length.
        text = out.render(self.config.input, sample, item)[: self.max_chars]
        reference = out.render(self.config.reference, sample, item)[: self.max_chars]
        metric = self.config.evaluation_metric
        if metric == "cosine":
            if self.embedder is None:
                out.flag("other_error", "cosine needs the embedder: set RFT_GRADER_EMBEDDER_URL "
                                        "to the embedder service, or install rft-embedder")
                return 0.0, {}
            try:
                vectors = await asyncio.to_thread(self.embedder.encode, [text, reference])
            except Exception as exc:  # a service that is down is this sample's error
                out.flag("other_error", f"embedder: {exc}")
                return 0.0, {}
            return metrics.cosine(list(vectors[0]), list(vectors[1])), {}
        # In a worker thread: two rouge_l gradings on the event loop held /healthz for 2.6 s
        # (the liveness probe gives up at 3 s).
        try:
            score = await asyncio.to_thread(self._score, metric, text, reference)
        except metrics.MetricUnavailable as exc:
            out.flag("other_error", str(exc))
            return 0.0, {}
        return score, {}

    def _score(self, metric: str, text: str, reference: str) -> float:
        if metric == "fuzzy_match":
            return metrics.fuzzy_match(text, reference)
        if metric == "bleu":
            return metrics.bleu(text, reference)
        if metric == "gleu":
            return metrics.gleu(text, reference)
        if metric == "meteor":
            return metrics.meteor(text, reference, self.wordnet_dir)
        return metrics.rouge(_ROUGE_KEYS[metric], text, reference)
