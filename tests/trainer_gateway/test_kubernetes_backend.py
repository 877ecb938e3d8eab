"""The kubernetes training backend: what it renders for a job, and how it drives a cluster.

No cluster here: the rendering is a pure function, and the backend's cluster calls go through a
four-method interface that a fake records. tests/deploy/test_training_manifests.py validates
the same rendering against the Kubernetes and Kubeflow Trainer schemas.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from rft_schemas import TrainingBackendName, TrainingHyperparameters, TrainingJob
from rft_trainer_gateway.backends.base import RunHandle, TrainingBackend
from rft_trainer_gateway.backends.kubernetes import (
    TRAINJOB_API_VERSION,
    VLLM_URL_ENV,
    KubernetesBackend,
    KubernetesTrainingSettings,
    Workload,
    is_running,
    render_training,
    resource_name,
)
from rft_trainer_gateway.job_files import JobFiles

Manifest = dict[str, Any]
JOBS = Path("/var/lib/rft-training/jobs")


def sample_job(**hyper: Any) -> TrainingJob:
    return TrainingJob(
        id="ftjob-7f3a", dataset="airline", base_model="Qwen/Qwen2.5-0.5B-Instruct",
        backend=TrainingBackendName.KUBERNETES,
        hyperparameters=TrainingHyperparameters(**hyper),
    )


def render(workload: Workload, resume_from: Path | None = None,
           config: KubernetesTrainingSettings | None = None, **hyper: Any) -> list[Manifest]:
    return render_training(
        sample_job(**hyper), JOBS / "ftjob-7f3a", resume_from,
        config or KubernetesTrainingSettings(trainer_gpus=4), workload=workload, name="rft-run",
    )


def of_kind(objs: list[Manifest], kind: str) -> Manifest:
    return next(o for o in objs if o["kind"] == kind)


def env_of(container: Manifest) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def trainer_argv_of_job(objs: list[Manifest]) -> list[str]:
    pod = of_kind(objs, "Job")["spec"]["template"]["spec"]
    trainer = next(c for c in pod["containers"] if c["name"] == "trainer")
    return [*trainer["command"], *trainer.get("args", [])]


def trainer_argv_of_trainjob(objs: list[Manifest]) -> list[str]:
    trainer = of_kind(objs, "TrainJob")["spec"]["trainer"]
    return [*trainer["command"], *trainer["args"]]


# --- rendering -------------------------------------------------------------------------------


@pytest.mark.parametrize("argv_of", [trainer_argv_of_job, trainer_argv_of_trainjob])
def test_both_workloads_run_the_worker_under_accelerate_on_every_trainer_gpu(argv_of) -> None:
    workload = Workload.JOB if argv_of is trainer_argv_of_job else Workload.TRAINJOB
    argv = argv_of(render(workload))
    assert argv[:2] == ["accelerate", "launch"]
    assert argv[argv.index("--num_processes") + 1] == "4"
    assert argv[argv.index("--config_file") + 1] == "/etc/rft/accelerate/zero3.yaml"
    assert argv[-3:] == ["-m", "rft_trainer_gateway.worker", str(JOBS / "ftjob-7f3a")]


def test_the_accelerate_config_is_deepspeed_zero3_over_the_trainer_gpus_and_is_mounted() -> None:
    objs = render(Workload.JOB)
    configmap = of_kind(objs, "ConfigMap")
    config = yaml.safe_load(configmap["data"]["zero3.yaml"])
    assert config["distributed_type"] == "DEEPSPEED"
    assert config["deepspeed_config"]["zero_stage"] == 3
    # checkpoints hold the gathered 16-bit weights: loadable without DeepSpeed
    assert config["deepspeed_config"]["zero3_save_16bit_model"] is True
    assert config["num_processes"] == 4 and config["num_machines"] == 1
    pod = of_kind(objs, "Job")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v.get("configMap"))
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]


def test_resuming_passes_the_checkpoint_to_the_worker() -> None:
    checkpoint = JOBS / "ftjob-7f3a" / "checkpoints" / "checkpoint-40"
    for argv in (trainer_argv_of_job(render(Workload.JOB, checkpoint)),
                 trainer_argv_of_trainjob(render(Workload.TRAINJOB, checkpoint))):
        assert argv[-2:] == ["--resume-from", str(checkpoint)]


def test_job_pod_serves_rollouts_from_a_vllm_sidecar_in_trl_server_mode() -> None:
    pod = of_kind(render(Workload.JOB), "Job")["spec"]["template"]["spec"]
    (vllm,) = pod["initContainers"]
    # a native sidecar: starts first, keeps running, does not hold the Job open when training ends
    assert vllm["restartPolicy"] == "Always"
    assert vllm["startupProbe"]["httpGet"]["path"] == "/health"
    argv = [*vllm["command"], *vllm["args"]]
    assert argv[:3] == ["vllm", "serve", "Qwen/Qwen2.5-0.5B-Instruct"]
    assert argv[argv.index("--weight-transfer-config") + 1] == '{"backend": "nccl"}'
    assert argv[argv.index("--logprobs-mode") + 1] == "processed_logprobs"
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert env_of(vllm)["VLLM_SERVER_DEV_MODE"] == "1"
    assert vllm["image"] == "vllm/vllm-openai:v0.31.0"
    trainer = pod["containers"][0]
    assert env_of(trainer)[VLLM_URL_ENV] == "http://127.0.0.1:8000"
    # both load the base model: one download, on the job volume, for every run
    hf_home = "/var/lib/rft-training/cache/huggingface"
    assert env_of(trainer)["HF_HOME"] == env_of(vllm)["HF_HOME"] == hf_home
    assert trainer["resources"]["limits"]["nvidia.com/gpu"] == "4"
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_trainjob_reaches_its_own_vllm_server_through_a_service() -> None:
    objs = render(Workload.TRAINJOB)
    assert [o["kind"] for o in objs] == ["TrainJob", "ConfigMap", "Deployment", "Service"]
    trainjob, _, deployment, service = objs
    assert trainjob["spec"]["runtimeRef"]["name"] == "torch-distributed"
    url = env_of(trainjob["spec"]["trainer"])[VLLM_URL_ENV]
    assert url == f"http://{service['metadata']['name']}.rft.svc:8000"
    assert service["spec"]["selector"].items() <= (
        deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    vllm = deployment["spec"]["template"]["spec"]["containers"][0]
    assert vllm["args"][vllm["args"].index("--host") + 1] == "0.0.0.0"
    assert env_of(vllm)["VLLM_SERVER_DEV_MODE"] == "1"


def test_trainjob_gets_kafka_settings_key_by_key_since_its_trainer_has_no_env_from() -> None:
    env = env_of(of_kind(render(Workload.TRAINJOB), "TrainJob")["spec"]["trainer"])
    ref = env["RFT_KAFKA_BOOTSTRAP"]["configMapKeyRef"]
    assert ref == {"name": "rft-settings", "key": "RFT_KAFKA_BOOTSTRAP", "optional": True}
    job_pod = of_kind(render(Workload.JOB), "Job")["spec"]["template"]["spec"]
    assert job_pod["containers"][0]["envFrom"] == [{"configMapRef": {"name": "rft-settings"}}]


def test_trainjob_mounts_the_job_volume_through_a_runtime_patch_of_the_node_container() -> None:
    trainjob = of_kind(render(Workload.TRAINJOB), "TrainJob")
    (patch,) = trainjob["spec"]["runtimePatches"]
    (replicated,) = patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    pod = replicated["template"]["spec"]["template"]["spec"]
    assert replicated["name"] == "node"
    claim = {"name": "data", "persistentVolumeClaim": {"claimName": "rft-training"}}
    assert claim in pod["volumes"]
    (node,) = pod["containers"]
    assert {"name": "data", "mountPath": "/var/lib/rft-training"} in node["volumeMounts"]


def test_gpu_placement_follows_the_settings_on_every_gpu_pod() -> None:
    config = KubernetesTrainingSettings(
        node_selector={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
        tolerations=[{"key": "gpu", "operator": "Equal", "value": "yes", "effect": "NoSchedule"}],
    )
    job_pod = of_kind(render(Workload.JOB, config=config), "Job")["spec"]["template"]["spec"]
    trainjob_objs = render(Workload.TRAINJOB, config=config)
    patch_pod = of_kind(trainjob_objs, "TrainJob")["spec"]["runtimePatches"][0][
        "trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"][0]["template"]["spec"][
        "template"]["spec"]
    vllm_pod = of_kind(trainjob_objs, "Deployment")["spec"]["template"]["spec"]
    for pod in (job_pod, patch_pod, vllm_pod):
        assert pod["nodeSelector"] == config.node_selector
        assert pod["tolerations"] == config.tolerations


def test_a_wall_clock_budget_becomes_a_hard_deadline_with_room_to_start() -> None:
    for workload, kind in ((Workload.JOB, "Job"), (Workload.TRAINJOB, "TrainJob")):
        assert "activeDeadlineSeconds" not in of_kind(render(workload), kind)["spec"]
        spec = of_kind(render(workload, wall_clock_budget_s=1800), kind)["spec"]
        assert spec["activeDeadlineSeconds"] == 1800 + 3600


def test_a_job_dir_off_the_shared_volume_is_refused() -> None:
    with pytest.raises(ValueError, match="not under /var/lib/rft-training"):
        render_training(sample_job(), Path("/home/me/run"), None, KubernetesTrainingSettings(),
                        workload=Workload.JOB, name="rft-run")


def test_resource_names_are_short_dns_labels_distinct_per_job_and_launch() -> None:
    long_id = "FTJOB_" + "x" * 120
    names = {
        resource_name(long_id, "a1"), resource_name(long_id, "a2"),
        resource_name("ftjob.x", "a1"), resource_name("ftjob-x", "a1"),
    }
    assert len(names) == 4
    for name in names:
        assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name)
        assert len(f"{name}-vllm") <= 63


# --- the backend against a cluster -------------------------------------------------------------


class FakeCluster:
    """Records what the backend asks of the API server; assigns uids like it does."""

    def __init__(self, has_trainjob: bool) -> None:
        self.has_trainjob = has_trainjob
        self.objects: dict[tuple[str, str], Manifest] = {}
        self.created: list[Manifest] = []
        self.deleted: list[tuple[str, str]] = []
        self.kind_queries = 0

    def has_kind(self, api_version: str, kind: str) -> bool:
        self.kind_queries += 1
        return self.has_trainjob and (api_version, kind) == (TRAINJOB_API_VERSION, "TrainJob")

    def create(self, manifest: Manifest) -> Manifest:
        created = copy.deepcopy(manifest)
        created["metadata"]["uid"] = f"uid-{len(self.created)}"
        self.created.append(created)
        self.objects[(manifest["kind"], manifest["metadata"]["name"])] = created
        return created

    def get(self, api_version: str, kind: str, name: str, namespace: str) -> Manifest | None:
        return self.objects.get((kind, name))

    def delete(self, api_version: str, kind: str, name: str, namespace: str) -> None:
        self.deleted.append((kind, name))
        self.objects.pop((kind, name), None)


@pytest.fixture
def files(tmp_path: Path) -> JobFiles:
    root = tmp_path / "trainer" / "jobs" / "ftjob-7f3a"
    root.mkdir(parents=True)
    return JobFiles(root)


def backend_on(cluster: FakeCluster, tmp_path: Path, **settings: Any) -> KubernetesBackend:
    config = KubernetesTrainingSettings(data_mount_path=tmp_path, **settings)
    return KubernetesBackend(config, api=cluster)


def test_the_backend_satisfies_the_training_backend_interface(tmp_path: Path) -> None:
    backend: TrainingBackend = backend_on(FakeCluster(has_trainjob=False), tmp_path)
    assert backend.name is TrainingBackendName.KUBERNETES


@pytest.mark.parametrize(("has_trainjob", "owner_kind"), [(True, "TrainJob"), (False, "Job")])
def test_launch_creates_the_owner_first_and_makes_the_rest_its_dependents(
    files: JobFiles, tmp_path: Path, has_trainjob: bool, owner_kind: str
) -> None:
    cluster = FakeCluster(has_trainjob)
    handle = backend_on(cluster, tmp_path).launch(sample_job(), files, None)
    owner, *dependents = cluster.created
    assert owner["kind"] == owner_kind
    assert handle.resource == f"{owner_kind}/{owner['metadata']['name']}"
    assert dependents
    for dependent in dependents:
        (reference,) = dependent["metadata"]["ownerReferences"]
        assert reference["uid"] == owner["metadata"]["uid"]
        assert reference["kind"] == owner_kind


def test_auto_workload_asks_the_cluster_once_and_a_setting_overrides_it(
    files: JobFiles, tmp_path: Path
) -> None:
    cluster = FakeCluster(has_trainjob=True)
    backend = backend_on(cluster, tmp_path)
    backend.launch(sample_job(), files, None)
    backend.launch(sample_job(), files, None)
    assert cluster.kind_queries == 1
    forced = FakeCluster(has_trainjob=True)
    backend_on(forced, tmp_path, workload="job").launch(sample_job(), files, None)
    assert forced.kind_queries == 0 and forced.created[0]["kind"] == "Job"


def test_alive_until_the_workload_completes_fails_or_is_gone(files: JobFiles,
                                                             tmp_path: Path) -> None:
    cluster = FakeCluster(has_trainjob=False)
    backend = backend_on(cluster, tmp_path)
    handle = backend.launch(sample_job(), files, None)
    assert backend.alive(handle)
    assert backend.exit_code(handle) is None
    job = cluster.created[0]
    job["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}
    assert not backend.alive(handle) and backend.exit_code(handle) == 0
    job["status"] = {"conditions": [{"type": "Failed", "status": "True"}]}
    assert not backend.alive(handle) and backend.exit_code(handle) == 1
    job["status"] = {"conditions": [{"type": "Failed", "status": "False"}]}
    assert backend.alive(handle)
    cluster.objects.clear()
    assert not backend.alive(handle)
    assert not backend.alive(RunHandle(backend=TrainingBackendName.KUBERNETES))


def test_trainjob_status_conditions_end_the_run_too() -> None:
    assert is_running({"status": {}})
    assert not is_running({"status": {"conditions": [{"type": "Failed", "status": "True"}]}})
    assert not is_running({"status": {"conditions": [
        {"type": "Suspended", "status": "False"}, {"type": "Complete", "status": "True"}]}})
    assert not is_running(None)


def test_cancel_writes_the_flag_the_worker_polls_and_deletes_nothing(
    files: JobFiles, tmp_path: Path
) -> None:
    cluster = FakeCluster(has_trainjob=False)
    backend = backend_on(cluster, tmp_path)
    handle = backend.launch(sample_job(), files, None)
    backend.cancel(handle, files)
    assert files.cancel_flag.exists()
    assert cluster.deleted == [] and backend.alive(handle)


def test_kill_deletes_the_owner_and_a_new_launch_clears_an_old_cancel(
    files: JobFiles, tmp_path: Path
) -> None:
    cluster = FakeCluster(has_trainjob=True)
    backend = backend_on(cluster, tmp_path)
    handle = backend.launch(sample_job(), files, None)
    backend.cancel(handle, files)
    backend.kill(handle)
    assert cluster.deleted == [tuple(handle.resource.split("/"))]  # type: ignore[union-attr]
    assert not backend.alive(handle)
    backend.launch(sample_job(), files, files.checkpoints / "checkpoint-1")
    assert not files.cancel_flag.exists()


def test_a_launch_that_fails_halfway_takes_the_owner_down_and_says_why(
    files: JobFiles, tmp_path: Path
) -> None:
    class RefusesConfigMaps(FakeCluster):
        def create(self, manifest: Manifest) -> Manifest:
            if manifest["kind"] == "ConfigMap":
                raise RuntimeError("configmaps is forbidden")
            return super().create(manifest)

    cluster = RefusesConfigMaps(has_trainjob=False)
    with pytest.raises(RuntimeError, match="forbidden"):
        backend_on(cluster, tmp_path).launch(sample_job(), files, None)
    (job,) = cluster.created
    assert cluster.deleted == [("Job", job["metadata"]["name"])]
    assert cluster.objects == {}
