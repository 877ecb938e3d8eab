"""deploy/k8s/components/gvisor: the optional component that runs the sandbox-workers pods
(where python graders' code runs) under gVisor's RuntimeClass."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.deploy.conftest import REPO, k8s


def _overlay_with_gvisor(tmp_path: Path) -> list[dict]:
    tree = tmp_path / "k8s"
    shutil.copytree(REPO / "deploy" / "k8s", tree, ignore=shutil.ignore_patterns("__pycache__"))
    local = (tree / "overlays" / "local" / "kustomization.yaml").read_text()
    overlay = tree / "overlays" / "sandboxed"
    overlay.mkdir()
    # The local overlay with the component listed before scaling-from-settings (which the
    # platform's docs keep last).
    (overlay / "kustomization.yaml").write_text(local.replace(
        "  - ../../components/scaling-from-settings",
        "  - ../../components/gvisor\n  - ../../components/scaling-from-settings", 1))
    return k8s.render(overlay)


def test_gvisor_component_runs_only_the_sandbox_workers_under_gvisor_and_validates(
        tmp_path: Path) -> None:
    objs = _overlay_with_gvisor(tmp_path)
    assert k8s.check(objs) == []
    runtime = {o["metadata"]["name"]: o["spec"]["template"]["spec"].get("runtimeClassName")
               for o in objs if o["kind"] == "Deployment"}
    assert runtime["sandbox-workers"] == "gvisor"
    assert {name for name, value in runtime.items() if value} == {"sandbox-workers"}
    settings = k8s.find(objs, "ConfigMap", k8s.SETTINGS_CONFIGMAP)["data"]
    # gVisor has no Landlock: without the explicit opt-out every python grader would fail.
    assert settings["RFT_GRADER_SANDBOX_ALLOW_WITHOUT_LANDLOCK"] == "true"


def test_the_targets_leave_the_sandbox_on_the_default_runtime_with_landlock_required() -> None:
    for target in k8s.TARGETS:
        objs = k8s.render(target)
        workers = k8s.find(objs, "Deployment", "sandbox-workers")
        assert "runtimeClassName" not in workers["spec"]["template"]["spec"]
        settings = k8s.find(objs, "ConfigMap", k8s.SETTINGS_CONFIGMAP)["data"]
        assert "RFT_GRADER_SANDBOX_ALLOW_WITHOUT_LANDLOCK" not in settings


def test_the_runtime_class_in_the_docs_is_a_valid_object() -> None:
    import re

    import yaml

    docs = (REPO / "docs" / "deploy.md").read_text()
    block = re.search(r"# RuntimeClass for gVisor[^\n]*\n(.*?)```", docs, re.DOTALL)
    assert block is not None, "docs/deploy.md lost the gVisor RuntimeClass"
    runtime_class = yaml.safe_load(block.group(1))
    assert k8s.structural_problems(runtime_class) == []
    assert runtime_class["metadata"]["name"] == "gvisor"  # what the component names
