"""Load deploy/k8s/validate.py (a script, not a package) and render each target once."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
VALIDATE_PY = REPO / "deploy" / "k8s" / "validate.py"


def _load_validator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rft_k8s_validate", VALIDATE_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the models' annotations through it
    spec.loader.exec_module(module)
    return module


k8s = _load_validator()

_rendered: dict[str, list[dict[str, Any]]] = {}


def rendered(target: str) -> list[dict[str, Any]]:
    """`kubectl kustomize` output of a target, rendered once per test session."""
    if target not in _rendered:
        _rendered[target] = k8s.render(target)
    return _rendered[target]


@pytest.fixture(params=k8s.TARGETS)
def target(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=[t for t in k8s.TARGETS if t.startswith("overlays/")])
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)
