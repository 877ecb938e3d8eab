"""Embeddings of sanitized prompts into Qdrant (feeds topic discovery and categorization)."""

from rft_embedder.core import EmbedOutcome, embed_prompts, embed_texts, prompt_collection_spec
from rft_embedder.models import Embedder, SentenceTransformerEmbedder, load_embedder
from rft_embedder.settings import EmbedderSettings, TaskTextSource
from rft_embedder.task_text import task_text

__all__ = [
    "EmbedOutcome", "Embedder", "EmbedderSettings", "SentenceTransformerEmbedder", "TaskTextSource",
    "embed_prompts", "embed_texts", "load_embedder", "prompt_collection_spec", "task_text",
]
