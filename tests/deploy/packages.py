"""The repo's own (rft-*) packages and the closure of their internal dependencies, read from the
pyproject files: what an image must build wheels of, since none of them is on PyPI."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.conftest import REPO

INTERNAL_PREFIX = "rft-"


@dataclass(frozen=True)
class Package:
    name: str  # canonical: rft-runtime
    directory: str  # relative to the repo root, no trailing slash: services/runtime
    dependencies: tuple[str, ...]
    extras: Mapping[str, tuple[str, ...]]  # optional-dependencies

    def requirements(self, extras: Iterable[str] = ()) -> list[Requirement]:
        """Its direct requirements, with those of the given extras."""
        wanted = list(self.dependencies)
        for extra in extras:
            wanted += self.extras[extra]  # an unknown extra is a KeyError: a typo, not silence
        return [Requirement(r) for r in wanted]


def is_internal(requirement: Requirement) -> bool:
    return canonicalize_name(requirement.name).startswith(INTERNAL_PREFIX)


def load_packages(repo: Path = REPO) -> dict[str, Package]:
    """Every package of the repo by canonical name: schemas/, services/*/, cli/."""
    found: dict[str, Package] = {}
    for pyproject in sorted(
        [repo / "schemas" / "pyproject.toml", *repo.glob("services/*/pyproject.toml"),
         repo / "cli" / "pyproject.toml"]
    ):
        if not pyproject.is_file():
            continue
        project = tomllib.loads(pyproject.read_text())["project"]
        name = canonicalize_name(project["name"])
        found[name] = Package(
            name=name,
            directory=pyproject.parent.relative_to(repo).as_posix(),
            dependencies=tuple(project.get("dependencies", [])),
            extras={k: tuple(v) for k, v in project.get("optional-dependencies", {}).items()},
        )
    return found


def internal_closure(
    root: str, extras: Iterable[str] = (), packages: Mapping[str, Package] | None = None
) -> dict[str, frozenset[str]]:
    """The root and every rft-* package it depends on, directly or not, each with the extras
    asked of it anywhere in the closure (pip installs the union)."""
    packages = load_packages() if packages is None else packages
    asked: dict[str, set[str]] = {}
    todo: list[tuple[str, frozenset[str]]] = [(canonicalize_name(root), frozenset(extras))]
    while todo:
        name, wanted = todo.pop()
        if name not in packages:
            raise KeyError(f"{name} is an internal dependency with no pyproject.toml in the repo")
        new = wanted - asked.get(name, set())
        if name in asked and not new:
            continue
        asked.setdefault(name, set()).update(wanted)
        for requirement in packages[name].requirements(asked[name]):
            if is_internal(requirement):
                todo.append(
                    (canonicalize_name(requirement.name), frozenset(requirement.extras))
                )
    return {name: frozenset(extras) for name, extras in asked.items()}


def external_requirements(
    closure: Mapping[str, frozenset[str]], packages: Mapping[str, Package] | None = None
) -> set[str]:
    """Canonical names of the third-party packages the closure asks for directly."""
    packages = load_packages() if packages is None else packages
    return {
        canonicalize_name(r.name)
        for name, extras in closure.items()
        for r in packages[name].requirements(extras)
        if not is_internal(r)
    }
