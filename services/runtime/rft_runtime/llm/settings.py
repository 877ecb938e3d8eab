"""Where the platform's LLM calls go, read from the environment with the ``RFT_LLM_`` prefix.

With ``RFT_LLM_BASE_URL`` unset, `rft up`, `rft run` and the tests start the local SmolLM2 server
(:mod:`rft_runtime.llm.local_server`) and point the client at it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_MODEL_NAME = "SmolLM2-135M-Instruct"


def default_cache_dir(name: str = "models") -> Path:
    """``<cache root>/<name>``, the one rule for every cache of the platform (the local model's
    checkpoint, the embedder's ONNX export, the sanitizer's tokenizers, WordNet): the root is
    ``$XDG_CACHE_HOME/rft`` when XDG_CACHE_HOME is set (an absolute path, as the XDG spec asks;
    the images and pods set it to a writable volume), else ``~/.cache/rft``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "rft" / name


class LLMSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RFT_LLM_", extra="ignore")

    base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint ending in /v1; unset = the local SmolLM2 server",
    )
    backend: Literal["local", "endpoint"] | None = Field(
        default=None,
        description="what serves base_url: 'local' = the SmolLM2 server on the CPU (`rft up` "
        "sets this), 'endpoint' = a served model (vLLM); unset = local when base_url is unset. "
        "Defaults that cost a model call per item (dry-run size, answer lengths) follow it",
    )
    api_key: SecretStr | None = Field(default=None, description="sent as a Bearer token")
    model: str = Field(default=LOCAL_MODEL_NAME, description="the served model name")
    timeout_s: float = Field(default=120.0, gt=0, description="per request, connect included")
    max_retries: int = Field(default=4, ge=0, description="retries after the first attempt")
    backoff_base_s: float = Field(default=0.5, gt=0, description="first retry waits up to this")
    backoff_max_s: float = Field(default=20.0, gt=0, description="cap on one wait")
    concurrency: int = Field(default=16, ge=1, description="requests in flight per client")

    # The local default server (used only when base_url is unset).
    cache_dir: Path = Field(
        default_factory=default_cache_dir,  # $XDG_CACHE_HOME/rft/models, else ~/.cache/rft/models
        description="where the GGUF model is dequantized once into a plain checkpoint",
    )
    local_max_batch: int = Field(default=16, ge=1, description="sequences decoded together")
    local_max_batch_tokens: int = Field(
        default=65_536, ge=1,
        description="KV positions one batch may hold, rows x (longest prompt + max_tokens); "
        "about 46 KB each, so the default bounds a batch's cache near 3 GB",
    )
    local_batch_window_ms: float = Field(
        default=25.0, ge=0, description="how long the batcher waits for more requests to group"
    )
    local_prefix_cache_tokens: int = Field(
        default=8192, ge=0, description="prompt KV kept for reuse (about 46 KB a token)"
    )
    local_threads: int | None = Field(default=None, ge=1, description="torch threads; unset = all")
    local_deployed_models: Path | None = Field(
        default=None,
        description="where the local server records the models deployed to it (name -> dir) "
        "and reloads them from on start; unset = cache_dir/served_models.json",
    )

    @property
    def runs_local_model(self) -> bool:
        """The calls go to the local CPU server, where each token costs: defaults shrink."""
        return self.backend == "local" if self.backend else not self.base_url

    def pointed_at_local(self, base_url: str) -> LLMSettings:
        """These settings, aimed at a local server just started at ``base_url``."""
        return self.model_copy(update={"base_url": base_url, "backend": "local"})

    def deployed_models_file(self) -> Path:
        return self.local_deployed_models or self.cache_dir / "served_models.json"
    local_start_timeout_s: float = Field(
        default=300.0, gt=0, description="first start dequantizes the GGUF file (about a minute)"
    )
