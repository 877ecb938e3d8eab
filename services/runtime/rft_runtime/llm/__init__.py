"""LLM access for the whole platform: one OpenAI-compatible client, and the local default server.

Importing this package never imports torch: only :mod:`rft_runtime.llm.server` (the local model,
extra ``rft-runtime[local-llm]``) does, in its own process.
"""

from rft_runtime.llm.client import (
    LLMClient,
    LLMError,
    LLMRequestError,
    LLMResponseError,
    LLMUnavailableError,
    UsageTotals,
    json_schema_format,
)
from rft_runtime.llm.local_server import LocalLLMServer, LocalServerError, llm_endpoint
from rft_runtime.llm.settings import LLMSettings

__all__ = [
    "LLMClient",
    "LLMError",
    "LLMRequestError",
    "LLMResponseError",
    "LLMSettings",
    "LLMUnavailableError",
    "LocalLLMServer",
    "LocalServerError",
    "UsageTotals",
    "json_schema_format",
    "llm_endpoint",
]
