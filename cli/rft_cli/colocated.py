"""``python -m rft_cli.colocated``: the services that share the embedded Qdrant, in one process.

Qdrant Edge lets one process open a collection's directory; the embedder, the categorizer and
the generator all read and write prompt vectors. On one machine without a Qdrant server, `rft
up` therefore runs the three here, sharing one store and one embedding model, each service on
its own port with its own API. With ``RFT_QDRANT_URL`` set, `rft up` starts them as separate
processes instead, as Kubernetes does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from rft_categorizer.service import build_service as build_categorizer
from rft_categorizer.settings import CategorizerSettings
from rft_embedder.models import load_embedder
from rft_embedder.service import build_service as build_embedder
from rft_embedder.settings import EmbedderSettings
from rft_generator.service import build_service as build_generator
from rft_generator.settings import GeneratorSettings
from rft_runtime.http.deadlines import ConnectionLimits
from rft_runtime.kafka.stage import KafkaStage
from rft_runtime.logs import configure_logging
from rft_runtime.service import HttpApp, serve_many
from rft_runtime.settings import RuntimeSettings
from rft_runtime.vectorstore import open_vector_store


class ColocatedPorts(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RFT_COLOCATED_", extra="ignore")

    embedder_port: int = 8001
    categorizer_port: int = 8002
    generator_port: int = 8003


async def serve_colocated() -> None:
    runtime = RuntimeSettings(service_name="vector-services")
    ports = ColocatedPorts()
    embedder_settings = EmbedderSettings()
    store = open_vector_store(runtime)
    embedder = load_embedder(embedder_settings, runtime.data_dir)

    def runtime_for(name: str, port: int) -> dict[str, Any]:
        return {"service_name": name, "http_port": port}

    embed_app, embed_stages, embed_rt = build_embedder(
        runtime.model_copy(update=runtime_for("embedder", ports.embedder_port)),
        embedder_settings,
        store=store,
        embedder=embedder,
    )
    cat_app, cat_stages, cat_rt = build_categorizer(
        CategorizerSettings(**runtime_for("categorizer", ports.categorizer_port)),
        embedder_settings,
        store=store,
        embedder=embedder,  # the model this process loaded (the categorizer loads none)
    )
    gen_app, gen_stages, gen_rt = build_generator(
        GeneratorSettings(**runtime_for("generator", ports.generator_port)),
        vector_store=store,
        embedder=embedder,  # the model this process loaded (the generator loads none)
    )
    stages: list[KafkaStage[Any]] = [*embed_stages, *cat_stages, *gen_stages]
    await serve_many(
        [
            HttpApp(embed_app, embed_rt.http_host, embed_rt.http_port,
                    ConnectionLimits.of(embed_rt)),
            HttpApp(cat_app, cat_rt.http_host, cat_rt.http_port, ConnectionLimits.of(cat_rt)),
            HttpApp(gen_app, gen_rt.http_host, gen_rt.http_port, ConnectionLimits.of(gen_rt)),
        ],
        stages,
    )


def main() -> None:
    runtime = RuntimeSettings(service_name="vector-services")
    configure_logging(runtime.service_name, runtime.log_level, runtime.log_json)
    asyncio.run(serve_colocated())


if __name__ == "__main__":
    main()
