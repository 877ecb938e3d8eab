"""LLM access for the whole platform: one OpenAI-compatible client, its settings, and the
launcher of the local default server.

Importing this package never imports torch. The server itself (the local model) is its own
package, :mod:`rft_local_llm` (services/local-llm); :class:`LocalLLMServer` runs it as
``python -m rft_local_llm`` in its own process.
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
