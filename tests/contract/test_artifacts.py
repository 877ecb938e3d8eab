"""The registry of the journey's artifacts: each named once, each contract a pydantic model."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import BaseModel

from rft_schemas.artifacts import (
    ARTIFACTS,
    STEPS,
    artifact,
    paths,
    written_by,
)

ROOT = Path(__file__).resolve().parents[2]


def test_every_artifact_name_is_unique():
    names = [a.name for a in ARTIFACTS]
    assert len(names) == len(set(names))


def test_every_registered_contract_is_a_pydantic_model():
    for a in ARTIFACTS:
        if a.contract is not None:
            assert isinstance(a.contract, type) and issubclass(a.contract, BaseModel), a.name


def test_images_and_folders_have_no_contract_and_every_step_writes_something():
    for a in ARTIFACTS:
        assert a.step in STEPS and len(a.step) == 1, a.name
        assert a.description, a.name
        if a.kind in ("image", "folder"):
            assert a.contract is None, a.name
    assert all(written_by(step) for step in STEPS)
    with pytest.raises(ValueError):
        written_by("K")


def test_paths_in_a_run_dir(tmp_path):
    report = artifact("sanitize_report.json")
    assert report.step == "A" and report.kind == "document"
    assert report.path(tmp_path) == tmp_path / "sanitize_report.json"
    assert paths(tmp_path, report) == {"sanitize_report.json": tmp_path / "sanitize_report.json"}
    assert artifact("hf_dataset").kind == "folder"
    with pytest.raises(KeyError):
        artifact("nothing.json")


def _literal_names(path: Path, names: set[str]) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"), str(path))
    return [f"{path.relative_to(ROOT)}:{node.lineno}: {node.value}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in names]


def test_the_code_names_each_artifact_file_only_in_the_registry():
    """No string in cli/ or services/ is an artifact's file name: code takes it from the
    registry (help texts and docstrings may mention it). Folders ("export", "checkpoints")
    are left out: their names are ordinary words."""
    names = {a.name for a in ARTIFACTS if a.kind != "folder"}
    sources = [p for top in ("cli", "services") for p in (ROOT / top).rglob("*.py")]
    assert sources
    found = [hit for path in sources for hit in _literal_names(path, names)]
    assert found == []
