"""GPU training on Kubernetes, offline: the gateway's rendering of a sample job with the gpu
overlay's settings passes the same checks as the kustomize targets (built-in kinds strictly
against the Kubernetes schemas; a Kubeflow TrainJob against its CRD's schema vendored from
kubeflow/trainer), and the TRL / vLLM pin agrees everywhere it is written.

Not checked here (no cluster, no GPU, no container engine): that the Kubeflow controller accepts
the TrainJob (its CEL rules beyond the name are not run), that the images build, and that
training runs; docs/training.md says what was run where.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from importlib.metadata import distribution, version
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from rft_schemas import TrainingBackendName, TrainingHyperparameters, TrainingJob
from rft_trainer_gateway.backends.kubernetes import (
    VLLM_IMAGE,
    VLLM_VERSION,
    WORKER_MODULE,
    KubernetesTrainingSettings,
    Workload,
    render_training,
    resource_name,
)
from tests.deploy.conftest import REPO, k8s, rendered
from tests.deploy.test_dockerfiles import dockerignore, excluded_from_context, instructions

Manifest = dict[str, Any]
GPU = "overlays/gpu"
TRAIN_DOCKERFILE = REPO / "services" / "trainer-gateway" / "Dockerfile.train-gpu"
TRAIN_REQUIREMENTS = REPO / "requirements" / "train-gpu.txt"


def overlay_settings(monkeypatch: pytest.MonkeyPatch) -> KubernetesTrainingSettings:
    """The backend's settings as the gateway reads them from the overlay's rft-training."""
    configmap = k8s.find(rendered(GPU), "ConfigMap", "rft-training")
    assert configmap is not None, "the gpu overlay has no rft-training ConfigMap"
    for key, value in configmap["data"].items():
        monkeypatch.setenv(key, value)
    return KubernetesTrainingSettings()


def sample_objects(config: KubernetesTrainingSettings, workload: Workload) -> list[Manifest]:
    job = TrainingJob(
        id="ftjob-sample", dataset="airline", base_model="Qwen/Qwen2.5-7B-Instruct",
        backend=TrainingBackendName.KUBERNETES,
        hyperparameters=TrainingHyperparameters(wall_clock_budget_s=7200),
    )
    job_dir = config.data_mount_path / "jobs" / job.id
    return render_training(job, job_dir, job_dir / "checkpoints" / "checkpoint-20", config,
                           workload=workload, name=resource_name(job.id, "1a2b3c"))


def pins() -> dict[str, str]:
    found = {}
    for line in TRAIN_REQUIREMENTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"{line}: the training image pins exact versions"
            found[requirement.name] = spec.version
    return found


def trl_requirement(name: str) -> Requirement:
    requirements = [Requirement(r) for r in distribution("trl").requires or []]
    return next(r for r in requirements if r.name == name)


@pytest.fixture(params=list(Workload))
def workload(request: pytest.FixtureRequest) -> Workload:
    return Workload(request.param)


# --- the rendered objects pass the validator ---------------------------------------------------


def test_sample_job_renders_objects_that_pass_the_schema_checks(
    monkeypatch: pytest.MonkeyPatch, workload: Workload
) -> None:
    objs = sample_objects(overlay_settings(monkeypatch), workload)
    kinds = {o["kind"] for o in objs}
    assert kinds == ({"TrainJob", "ConfigMap", "Deployment", "Service"}
                     if workload is Workload.TRAINJOB else {"Job", "ConfigMap"})
    for obj in objs:
        assert k8s.structural_problems(obj) == [], k8s.name_of(obj)
        assert k8s.cache_problems(obj) == [], k8s.name_of(obj)
        assert obj["metadata"]["namespace"] == "rft"


def test_trainjob_check_catches_a_misspelt_field_a_bad_quantity_and_a_bad_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trainjob = sample_objects(overlay_settings(monkeypatch), Workload.TRAINJOB)[0]
    misspelt = copy.deepcopy(trainjob)
    misspelt["spec"]["trainer"]["numProcsPerNode"] = 3
    assert any("numProcsPerNode" in p for p in k8s.trainjob_problems(misspelt))
    quantity = copy.deepcopy(trainjob)
    quantity["spec"]["trainer"]["resourcesPerNode"]["limits"]["memory"] = "lots"
    assert any("limits.memory" in p for p in k8s.trainjob_problems(quantity))
    # runtime patches may only mount into the runtime's containers, not replace their image
    patched = copy.deepcopy(trainjob)
    pod = patched["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"][
        "replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
    pod["containers"][0]["image"] = "elsewhere:1"
    assert any("'image' was unexpected" in p for p in k8s.trainjob_problems(patched))
    named = copy.deepcopy(trainjob)
    named["metadata"]["name"] = "Train_Job"
    assert any("RFC 1035" in p for p in k8s.trainjob_problems(named))


def test_job_check_catches_a_misspelt_sidecar_probe_and_a_wrongly_typed_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = sample_objects(overlay_settings(monkeypatch), Workload.JOB)[0]
    sidecar = job["spec"]["template"]["spec"]["initContainers"][0]
    sidecar["startUpProbe"] = sidecar.pop("startupProbe")
    assert any("startUpProbe" in p for p in k8s.schema_problems(job))
    job = sample_objects(overlay_settings(monkeypatch), Workload.JOB)[0]
    job["spec"]["backoffLimit"] = "never"
    assert any("backoffLimit" in p for p in k8s.schema_problems(job))


def test_trainjob_trainer_caches_on_its_writable_tmp_mount(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trainjob = sample_objects(overlay_settings(monkeypatch), Workload.TRAINJOB)[0]
    env = {e["name"]: e.get("value") for e in trainjob["spec"]["trainer"]["env"]}
    pod = trainjob["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"][
        "replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
    node = {**pod["containers"][0], "image": trainjob["spec"]["trainer"]["image"],
            "env": trainjob["spec"]["trainer"]["env"]}
    assert env["XDG_CACHE_HOME"] == "/tmp/.cache"
    assert k8s.writable_mount(pod, node, "/tmp/.cache") == "/tmp"


def test_the_pods_run_a_worker_module_that_exists() -> None:
    assert k8s.python_m_runnable(WORKER_MODULE)


# --- the gpu overlay carries what the rendering needs --------------------------------------------


def test_overlay_settings_put_training_on_gpu_nodes_with_the_pinned_rollout_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = overlay_settings(monkeypatch)
    assert config.vllm_image == VLLM_IMAGE
    assert config.trainer_image == "ghcr.io/rft-platform/trainer-gpu:0.1.0"
    assert config.node_selector and config.tolerations
    job = sample_objects(config, Workload.JOB)[0]
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == config.node_selector
    gpus = {c["name"]: int(c["resources"]["limits"]["nvidia.com/gpu"])
            for c in [*pod["initContainers"], *pod["containers"]]}
    assert gpus == {"vllm": config.vllm_gpus, "trainer": config.trainer_gpus}


def test_the_job_claim_is_shared_by_the_gateway_and_the_pods(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = overlay_settings(monkeypatch)
    claim = k8s.find(rendered(GPU), "PersistentVolumeClaim", config.data_claim)
    assert claim is not None
    # the gateway and a training pod may be on different nodes
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    pod = sample_objects(config, Workload.JOB)[0]["spec"]["template"]["spec"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": config.data_claim}} in (
        pod["volumes"]
    )


def test_the_gateway_may_create_get_and_delete_every_kind_it_renders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objs = rendered(GPU)
    role = k8s.find(objs, "Role", "rft-training-launcher")
    binding = k8s.find(objs, "RoleBinding", "rft-training-launcher")
    assert role is not None and binding is not None
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "rft-training-launcher", "namespace": "rft"}
    ]
    allowed = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    config = overlay_settings(monkeypatch)
    for workload in Workload:
        for obj in sample_objects(config, workload):
            group = obj["apiVersion"].rpartition("/")[0]
            resource = obj["kind"].lower() + "s"
            for verb in ("create", "get", "delete"):
                assert (group, resource, verb) in allowed, (group, resource, verb)


# --- one TRL / vLLM pair, written the same everywhere ---------------------------------------------


def test_the_pinned_vllm_is_in_the_range_the_installed_trl_supports() -> None:
    supported = trl_requirement("vllm").specifier
    assert VLLM_VERSION in supported, f"vLLM {VLLM_VERSION} is outside TRL's {supported}"
    assert pins()["trl"] == version("trl"), "the image's TRL is the one the tests ran against"


def test_requirements_image_and_overlay_name_the_same_vllm() -> None:
    assert pins()["vllm"] == VLLM_VERSION
    assert f"vllm/vllm-openai:v{VLLM_VERSION}" == VLLM_IMAGE
    froms = re.findall(r"^FROM (\S+)", TRAIN_DOCKERFILE.read_text(), flags=re.M)
    assert froms[-1] == VLLM_IMAGE, "the trainer runs the rollout server's vLLM"


def test_the_other_pins_meet_trls_own_requirements() -> None:
    pinned = pins()
    assert Version(pinned["transformers"]) in trl_requirement("transformers").specifier
    assert Version(pinned["accelerate"]) in trl_requirement("accelerate").specifier
    deepspeed = next(r for r in (Requirement(r) for r in distribution("trl").requires or [])
                     if r.name == "deepspeed")
    assert Version(pinned["deepspeed"]) in deepspeed.specifier
    # vllm 0.31.0's own metadata: torch==2.13.0, transformers>=5.10.4,<5.18.0
    assert pinned["torch"] == "2.13.0"
    assert Version("5.10.4") <= Version(pinned["transformers"]) < Version("5.18.0")


def test_training_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    done = subprocess.run([str(hadolint), str(TRAIN_DOCKERFILE)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_training_image_build_context_admits_what_it_copies() -> None:
    copied = [i.arguments.split()[0] for i in instructions(TRAIN_DOCKERFILE)
              if i.keyword == "COPY" and "--from" not in i.arguments]
    assert "requirements/train-gpu.txt" in copied
    for source in copied:
        assert not excluded_from_context(source.rstrip("/"), dockerignore()), source
    assert excluded_from_context("requirements/dev.txt", dockerignore())


def test_the_overlays_gateway_launches_runs_on_the_claim_the_pods_mount(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = overlay_settings(monkeypatch)
    gateway = k8s.find(rendered(GPU), "Deployment", "trainer-gateway")
    assert gateway is not None
    pod = gateway["spec"]["template"]["spec"]
    # it talks to the API server as the launcher the Role is bound to
    assert pod["serviceAccountName"] == "rft-training-launcher"
    assert pod["automountServiceAccountToken"] is True
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"]
              for v in pod["volumes"] if "persistentVolumeClaim" in v}
    mounted = {m["mountPath"]: claims.get(m["name"]) for m in container["volumeMounts"]}
    assert mounted[str(config.data_mount_path)] == config.data_claim
    assert Path(env["RFT_TRAINER_JOBS_DIR"]).is_relative_to(config.data_mount_path)
    assert {"configMapRef": {"name": "rft-training"}} in container["envFrom"]
    assert env["RFT_TRAINER_BACKEND"] == "kubernetes"
    assert "kubernetes" in env["RFT_TRAINER_BACKENDS"]
