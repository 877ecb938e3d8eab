"""The console's settings: the services' URLs (``RFT_CONSOLE_*``), the runtime's ``RFT_*``.

The API token is the runtime's (``RFT_API_TOKEN``): the console asks for it at /login when it
listens beyond loopback, and sends it to every service it calls.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from rft_runtime.settings import RuntimeSettings


class ConsoleSettings(RuntimeSettings):
    service_env_prefix: ClassVar[str] = "RFT_CONSOLE_"

    sanitizer_url: str | None = Field(default=None, description="the sanitizer's API (step A)")
    categorizer_url: str | None = Field(
        default=None, description="the categorizer's API (steps B, C, D)"
    )
    generator_url: str | None = Field(default=None, description="the generator's API (E, F)")
    grader_url: str | None = Field(default=None, description="the grader's API (G, H)")
    gateway_url: str | None = Field(
        default=None, description="the trainer gateway's API (I, J)"
    )
    dataset: str = Field(default="demo", description="the dataset `/` opens")
    request_timeout_s: float = Field(
        default=600.0, gt=0,
        description="one call to a service; an upload is sanitized within the request",
    )
    page_size: int = Field(default=25, ge=1, le=1000, description="rows per page of a table")
