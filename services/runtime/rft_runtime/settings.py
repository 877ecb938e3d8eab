"""Settings every service shares, read from the environment with the ``RFT_`` prefix.

Each service extends :class:`RuntimeSettings` with its own fields (and its own prefix for them,
:attr:`RuntimeSettings.service_env_prefix`); nothing else in the code base reads ``os.environ``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

SHARED_ENV_PREFIX = "RFT_"


class _EnvFor(EnvSettingsSource):
    """The environment variables named ``prefix`` + field name, for ``fields`` only."""

    def __init__(self, settings_cls: type[BaseSettings], prefix: str, fields: set[str]) -> None:
        super().__init__(settings_cls, env_prefix=prefix)
        self._fields = fields

    def __call__(self) -> dict[str, Any]:
        return {name: value for name, value in super().__call__().items() if name in self._fields}


class RuntimeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=SHARED_ENV_PREFIX, extra="ignore")

    service_env_prefix: ClassVar[str] = SHARED_ENV_PREFIX
    """Where a service's own fields are read: ``RFT_SANITIZER_`` reads ``policy`` from
    ``RFT_SANITIZER_POLICY`` and not from ``RFT_POLICY``. The shared fields keep ``RFT_``
    (``RFT_DATA_DIR``); the service's prefix, where set, overrides it for that service
    (``RFT_SANITIZER_DATA_DIR``)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        prefix = cls.service_env_prefix
        if prefix == SHARED_ENV_PREFIX:
            return init_settings, env_settings, dotenv_settings, file_secret_settings
        shared = set(RuntimeSettings.model_fields)
        return (
            init_settings,
            _EnvFor(settings_cls, prefix, set(settings_cls.model_fields)),
            _EnvFor(settings_cls, SHARED_ENV_PREFIX, shared),
            dotenv_settings,
            file_secret_settings,
        )

    service_name: str = Field(default="rft", description="name in logs and metrics")
    data_dir: Path = Field(default=Path(".rft"), description="local state: stores, caches, jobs")

    kafka_bootstrap: str | None = Field(
        default=None,
        description="host:port[,host:port]; unset means the local broker started by `rft up`",
    )
    kafka_client_id: str = "rft"
    kafka_partitions: int = Field(default=6, ge=1, description="partitions of created topics")
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_batch_max_records: int = Field(default=500, ge=1)
    kafka_batch_timeout_ms: int = Field(default=200, ge=1)
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None

    qdrant_url: str | None = Field(default=None, description="a Qdrant server; unset = Edge")
    qdrant_path: Path | None = Field(default=None, description="Qdrant Edge dir (data_dir/qdrant)")
    qdrant_api_key: SecretStr | None = None

    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint; unset = local SmolLM2 server"
    )
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None

    http_host: str = "127.0.0.1"
    api_token: SecretStr | None = Field(
        default=None,
        description="the token every HTTP request must carry (Authorization: Bearer) when the "
        "service listens beyond loopback (http_host not 127.0.0.1/::1/localhost); such a "
        "service without one refuses every request but its probes and /metrics. Clients of "
        "other services send it too",
    )
    http_port: int = Field(default=8000, ge=0, le=65535)
    http_max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    http_header_timeout_s: float = Field(
        default=10.0, gt=0,
        description="a request head (line and headers) not received in this time is answered "
        "408 and its connection closed",
    )
    http_body_timeout_s: float = Field(
        default=120.0, gt=0,
        description="a request body not received in full this long after its head: the "
        "connection is closed",
    )
    http_keep_alive_s: float = Field(
        default=5.0, gt=0, description="an idle kept-alive connection is closed after this"
    )
    http_max_header_bytes: int = Field(
        default=64 * 1024, ge=1024, description="a longer request line + headers is a 400"
    )

    log_level: str = "INFO"
    log_json: bool = True

    def resolved_qdrant_path(self) -> Path:
        return self.qdrant_path or self.data_dir / "qdrant"
