"""The generator service runs without a model: it imports neither torch nor the embedder nor the
categorizer, and refuses to start with neither the embedder service's URL nor an embedder handed
in. (Its client of that service: tests/embedder_service/test_http_embedder.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rft_generator.service import EmbedderNotConfigured, build_service
from rft_generator.settings import GeneratorSettings
from rft_runtime.llm import LLMSettings

# What `python -m rft_generator` imports to start, and the modules behind its routes and jobs.
SERVICE_MODULES = (
    "rft_generator", "rft_generator.__main__", "rft_generator.service", "rft_generator.api",
    "rft_generator.batch", "rft_generator.jobs", "rft_generator.runner", "rft_generator.pool",
    "rft_generator.split_service", "rft_generator.split_batch", "rft_generator.sources",
    "rft_generator.stage", "rft_generator.kafka_stages", "rft_generator.validation",
)
HEAVY = ("torch", "sentence_transformers", "transformers", "onnxruntime", "rft_embedder",
         "rft_categorizer")


def test_the_service_imports_no_model_package() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {SERVICE_MODULES!r}: importlib.import_module(name)\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported: {done.stdout.strip()}"


def test_without_an_embedder_or_its_url_the_service_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(EmbedderNotConfigured, match="RFT_GENERATOR_EMBEDDER_URL"):
        build_service(GeneratorSettings(data_dir=tmp_path, log_json=False),
                      LLMSettings(base_url="http://127.0.0.1:9/v1"))


# Step E validates candidates with step A's own structure checks (rft_sanitizer, torch-free);
# every other step reaches it over HTTP or is handed in by its caller.
ALLOWED_STEP_PACKAGES = {"rft_generator", "rft_schemas", "rft_runtime", "rft_sanitizer"}


def test_no_generator_module_imports_another_steps_package_even_lazily() -> None:
    import ast

    import rft_generator

    package = Path(rft_generator.__file__).parent
    found: set[tuple[str, str]] = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split(".")[0]
                if top.startswith("rft_") and top not in ALLOWED_STEP_PACKAGES:
                    found.add((source.name, name))
    assert not found, f"imports of other steps' packages: {sorted(found)}"
