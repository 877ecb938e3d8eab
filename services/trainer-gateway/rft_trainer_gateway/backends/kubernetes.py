"""The ``kubernetes`` backend: the same training entrypoint as a pod on GPU nodes.

What runs (docs/training.md says why):
- ``accelerate launch`` with DeepSpeed ZeRO-3 across the trainer's GPUs (the accelerate config
  is rendered into a ConfigMap), running ``python -m rft_trainer_gateway.worker JOB_DIR``;
- rollouts from a vLLM server in TRL's server mode: the worker reads the server's URL from
  ``RFT_TRAINING_VLLM_SERVER_URL`` (GRPOConfig ``use_vllm=True, vllm_mode="server",
  vllm_server_base_url``) and pushes its weights to it over NCCL after each step;
- the job directory on a PersistentVolumeClaim mounted at the gateway's data dir (checkpoints,
  the event log and the cancel flag there), so the gateway reads the job as it reads a local one;
- events also over Kafka (``RFT_KAFKA_BOOTSTRAP`` from the rft-settings ConfigMap).

Two workloads, one entrypoint:
- a Kubeflow Trainer ``TrainJob`` (trainer.kubeflow.org/v1alpha1) where the cluster has the CRD,
  on a torch ClusterTrainingRuntime; its runtime patches can change containers but not add one,
  so the vLLM server is a Deployment and Service of its own, owned by the TrainJob;
- else a ``batch/v1`` Job whose pod runs vLLM as a native sidecar (an init container that
  keeps running; Kubernetes >= 1.29) next to the trainer, on localhost.

Rendering is a pure function (:func:`render_training`), validated offline by tests/deploy; the
cluster calls go through :class:`ClusterApi`, implemented on the ``kubernetes`` client
(``pip install 'rft-trainer-gateway[kubernetes]'``), imported only when a backend is built.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from rft_schemas import TrainingBackendName, TrainingJob
from rft_trainer_gateway.backends.base import RunHandle
from rft_trainer_gateway.job_files import JobFiles

Manifest = dict[str, Any]

# TRL 1.16 supports vLLM 0.22.0 to 0.31.0 (trl.import_utils.is_vllm_available warns outside it,
# and its `vllm` extra pins vllm<=0.31.0): the weight sync speaks vLLM's NCCL weight-transfer
# engine, whose trainer side changed in 0.28 and whose /server_info and render endpoints TRL
# calls. 0.31.0, the newest it supports, is what the rollout server and the trainer image run
# (requirements/train-gpu.txt); the gateway's inference vLLM (components/vllm) is not bound by it.
VLLM_VERSION = "0.31.0"
VLLM_IMAGE = f"vllm/vllm-openai:v{VLLM_VERSION}"
TRAINER_IMAGE = "ghcr.io/rft-platform/trainer-gpu:0.1.0"

TRAINJOB_API_VERSION = "trainer.kubeflow.org/v1alpha1"
TRAINJOB_KIND = "TrainJob"
# The manager key of our entry in a TrainJob's runtimePatches (a list map keyed by manager).
PATCH_MANAGER = "rft-platform.io/trainer-gateway"
# The Torch runtime's trainer container and replicated job are both named "node".
TRAINJOB_NODE = "node"

VLLM_PORT = 8000
ACCELERATE_DIR = "/etc/rft/accelerate"
ACCELERATE_FILE = "zero3.yaml"
WORKER_MODULE = "rft_trainer_gateway.worker"
VLLM_URL_ENV = "RFT_TRAINING_VLLM_SERVER_URL"
JOB_ID_LABEL = "rft-platform.io/training-job"
# rft-settings keys the worker reads (Kafka for events, logging). A TrainJob's trainer takes
# single env vars only (no envFrom), so these are referenced one by one there.
WORKER_SETTINGS = (
    "RFT_KAFKA_BOOTSTRAP",
    "RFT_KAFKA_SECURITY_PROTOCOL",
    "RFT_KAFKA_SASL_MECHANISM",
    "RFT_KAFKA_SASL_USERNAME",
    "RFT_LOG_JSON",
    "RFT_LOG_LEVEL",
)


class Workload(StrEnum):
    TRAINJOB = "trainjob"
    JOB = "job"


class KubernetesTrainingSettings(BaseSettings):
    """Where and how training pods run (``RFT_TRAINING_K8S_*``; the gpu overlay sets them)."""

    model_config = SettingsConfigDict(env_prefix="RFT_TRAINING_K8S_", extra="ignore")

    namespace: str = "rft"
    workload: Literal["auto", "trainjob", "job"] = Field(
        default="auto", description="auto: a TrainJob where the cluster serves the CRD, else a Job"
    )
    training_runtime: str = Field(
        default="torch-distributed", description="the ClusterTrainingRuntime a TrainJob runs on"
    )
    trainer_image: str = TRAINER_IMAGE
    vllm_image: str = Field(default=VLLM_IMAGE, description="the rollout server, in TRL's range")
    trainer_gpus: int = Field(default=1, ge=1, description="DeepSpeed ZeRO-3 processes")
    vllm_gpus: int = Field(default=1, ge=1, description="the rollout server's tensor parallel size")
    trainer_cpu: str = "8"
    trainer_memory: str = "64Gi"
    vllm_cpu: str = "4"
    vllm_memory: str = "32Gi"
    vllm_gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    vllm_max_model_len: int = Field(default=4096, ge=256, description="prompt + completion")
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(
        default_factory=lambda: [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ]
    )
    data_claim: str = Field(
        default="rft-training",
        description="PVC holding the job directories (ReadWriteMany: the gateway mounts it too)",
    )
    data_mount_path: Path = Field(
        default=Path("/var/lib/rft-training"),
        description="where the gateway and the pods mount it (the gateway's jobs dir is in it)",
    )
    settings_configmap: str = "rft-settings"
    hf_token_secret: str = Field(default="hf-token", description="optional: gated models")
    shm_size: str = Field(default="16Gi", description="/dev/shm for NCCL and DeepSpeed")
    ttl_after_finished_s: int = Field(default=86400, ge=0)
    startup_deadline_s: int = Field(
        default=3600, ge=60, description="added to the job's wall-clock budget as a hard stop"
    )


# --- names ---------------------------------------------------------------------------------


def resource_name(job_id: str, token: str) -> str:
    """An RFC 1035 label (a TrainJob's rule, and a Service's), at most 63 characters: a slug of
    the job id, a hash of it (two ids that slug alike stay apart) and a per-launch token (a
    resumed attempt is a new object; a Job's pod template is immutable)."""
    slug = re.sub(r"[^a-z0-9]+", "-", job_id.lower()).strip("-")
    digest = hashlib.sha256(job_id.encode()).hexdigest()[:6]
    token = re.sub(r"[^a-z0-9]", "", token.lower())[:8] or "0"
    # "rft-" + slug + "-" + digest + "-" + token; the Service "<name>-vllm" must fit in 63 too.
    room = 63 - len("rft--") - len(digest) - 1 - len(token) - len("-vllm")
    slug = slug[:room].rstrip("-") or "job"
    return f"rft-{slug}-{digest}-{token}"


def label_value(text: str) -> str:
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:63]
    return value.strip("-_.") or "job"


# --- the accelerate + DeepSpeed ZeRO-3 config -------------------------------------------------


def accelerate_config(num_processes: int) -> dict[str, Any]:
    """accelerate's config for DeepSpeed ZeRO-3 on one node (TRL's accelerate_configs/zero3.yaml
    with the process count of the pod): parameters, gradients and optimizer states sharded over
    the trainer's GPUs, bf16, and the full 16-bit weights gathered when a checkpoint is saved (a
    checkpoint is then a loadable model, not only DeepSpeed shards)."""
    return {
        "compute_environment": "LOCAL_MACHINE",
        "debug": False,
        "distributed_type": "DEEPSPEED",
        "deepspeed_config": {
            "deepspeed_multinode_launcher": "standard",
            "offload_optimizer_device": "none",
            "offload_param_device": "none",
            "zero3_init_flag": True,
            "zero3_save_16bit_model": True,
            "zero_stage": 3,
        },
        "downcast_bf16": "no",
        "machine_rank": 0,
        "main_training_function": "main",
        "mixed_precision": "bf16",
        "num_machines": 1,
        "num_processes": num_processes,
        "rdzv_backend": "static",
        "same_network": True,
        "tpu_env": [],
        "tpu_use_cluster": False,
        "tpu_use_sudo": False,
        "use_cpu": False,
    }


# --- the pieces both workloads share -------------------------------------------------------


def worker_args(job_dir: Path, resume_from: Path | None) -> list[str]:
    args = ["-m", WORKER_MODULE, str(job_dir)]
    if resume_from is not None:
        args += ["--resume-from", str(resume_from)]
    return args


def vllm_server_args(model: str, config: KubernetesTrainingSettings, host: str) -> list[str]:
    """`vllm serve` as TRL's server mode needs it (trl/scripts/vllm_serve.py build_command: the
    NCCL weight-transfer engine, processed logprobs, no logprob cap, the scale-out endpoints of
    vLLM >= 0.30), with VLLM_SERVER_DEV_MODE=1 in its environment for the sync endpoints."""
    return [
        model,
        "--host", host,
        "--port", str(VLLM_PORT),
        "--tensor-parallel-size", str(config.vllm_gpus),
        "--gpu-memory-utilization", str(config.vllm_gpu_memory_utilization),
        "--max-model-len", str(config.vllm_max_model_len),
        "--dtype", "auto",
        "--enable-scale-out",
        "--weight-transfer-config", json.dumps({"backend": "nccl"}),
        "--logprobs-mode", "processed_logprobs",
        "--max-logprobs", "-1",
    ]


def hf_home(config: KubernetesTrainingSettings) -> str:
    """Hugging Face's cache on the job volume: a base model is downloaded once for every run,
    the trainer and the rollout server (which load the same weights) included."""
    return str(config.data_mount_path / "cache" / "huggingface")


def _gpu_resources(cpu: str, memory: str, gpus: int) -> dict[str, Any]:
    return {
        "requests": {"cpu": cpu, "memory": memory, "nvidia.com/gpu": str(gpus)},
        "limits": {"memory": memory, "nvidia.com/gpu": str(gpus)},
    }


def _http_probe(path: str, **timing: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": VLLM_PORT}, **timing}


def vllm_container(model: str, config: KubernetesTrainingSettings, host: str) -> Manifest:
    return {
        "name": "vllm",
        "image": config.vllm_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["vllm", "serve"],
        "args": vllm_server_args(model, config, host),
        "ports": [{"name": "vllm", "containerPort": VLLM_PORT, "protocol": "TCP"}],
        "env": [
            {"name": "VLLM_SERVER_DEV_MODE", "value": "1"},
            {"name": "HF_HOME", "value": hf_home(config)},
            {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {
                "name": config.hf_token_secret, "key": "token", "optional": True}}},
        ],
        "resources": _gpu_resources(config.vllm_cpu, config.vllm_memory, config.vllm_gpus),
        # Loading the weights takes minutes: the trainer starts once this answers.
        "startupProbe": _http_probe("/health", periodSeconds=10, failureThreshold=90),
        "readinessProbe": _http_probe("/health", periodSeconds=10),
        "securityContext": {"allowPrivilegeEscalation": False},
        "volumeMounts": [
            {"name": "data", "mountPath": str(config.data_mount_path)},
            {"name": "shm", "mountPath": "/dev/shm"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def _volumes(config: KubernetesTrainingSettings, accelerate_configmap: str) -> list[Manifest]:
    return [
        {"name": "data", "persistentVolumeClaim": {"claimName": config.data_claim}},
        {"name": "accelerate", "configMap": {"name": accelerate_configmap}},
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": config.shm_size}},
        {"name": "tmp", "emptyDir": {}},
    ]


def _trainer_mounts(config: KubernetesTrainingSettings) -> list[Manifest]:
    return [
        {"name": "data", "mountPath": str(config.data_mount_path)},
        {"name": "accelerate", "mountPath": ACCELERATE_DIR, "readOnly": True},
        {"name": "shm", "mountPath": "/dev/shm"},
        {"name": "tmp", "mountPath": "/tmp"},
    ]


def _trainer_env(vllm_url: str, config: KubernetesTrainingSettings) -> list[Manifest]:
    return [
        {"name": VLLM_URL_ENV, "value": vllm_url},
        # Every other cache on the writable /tmp volume: the root file system is read-only.
        {"name": "XDG_CACHE_HOME", "value": "/tmp/.cache"},
        {"name": "HF_HOME", "value": hf_home(config)},
        # Triton's kernel cache defaults to ~/.triton, on the read-only root (torch's extension
        # builds, DeepSpeed's ops among them, follow XDG_CACHE_HOME already).
        {"name": "TRITON_CACHE_DIR", "value": "/tmp/.cache/triton"},
        {"name": "TOKENIZERS_PARALLELISM", "value": "false"},
    ]


_TRAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "capabilities": {"drop": ["ALL"]},
}


def _metadata(name: str, job: TrainingJob, config: KubernetesTrainingSettings,
              component: str) -> Manifest:
    return {
        "name": name,
        "namespace": config.namespace,
        "labels": {
            "app.kubernetes.io/name": "rft-training",
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/part-of": "rft-platform",
            "app.kubernetes.io/managed-by": "rft-trainer-gateway",
            JOB_ID_LABEL: label_value(job.id),
        },
    }


def accelerate_configmap(name: str, job: TrainingJob,
                         config: KubernetesTrainingSettings) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(f"{name}-accelerate", job, config, "training-config"),
        "data": {ACCELERATE_FILE: yaml.safe_dump(accelerate_config(config.trainer_gpus),
                                                 sort_keys=False)},
    }


def _deadline(job: TrainingJob, config: KubernetesTrainingSettings) -> int | None:
    budget = job.hyperparameters.wall_clock_budget_s
    return None if budget is None else int(budget) + config.startup_deadline_s


def _check_on_volume(path: Path, config: KubernetesTrainingSettings) -> None:
    if not path.is_relative_to(config.data_mount_path):
        raise ValueError(
            f"{path} is not under {config.data_mount_path}, where the training pod mounts the "
            f"claim {config.data_claim}: set the gateway's jobs dir on that volume"
        )


# --- batch/v1 Job: trainer + vLLM sidecar in one pod -----------------------------------------


def render_job(name: str, job: TrainingJob, job_dir: Path, resume_from: Path | None,
               config: KubernetesTrainingSettings) -> Manifest:
    accelerate = [
        "accelerate", "launch",
        "--config_file", f"{ACCELERATE_DIR}/{ACCELERATE_FILE}",
        "--num_processes", str(config.trainer_gpus),
        *worker_args(job_dir, resume_from),
    ]
    sidecar = {**vllm_container(job.base_model, config, "127.0.0.1"), "restartPolicy": "Always"}
    trainer = {
        "name": "trainer",
        "image": config.trainer_image,
        "imagePullPolicy": "IfNotPresent",
        "command": accelerate,
        "envFrom": [{"configMapRef": {"name": config.settings_configmap}}],
        "env": _trainer_env(f"http://127.0.0.1:{VLLM_PORT}", config),
        "resources": _gpu_resources(config.trainer_cpu, config.trainer_memory,
                                    config.trainer_gpus),
        "securityContext": _TRAINER_SECURITY,
        "volumeMounts": _trainer_mounts(config),
    }
    pod_spec: Manifest = {
        # The gateway resumes a failed run from its checkpoint with --resume-from; a pod
        # restarted by the Job would start over without it.
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        # Deleting the Job (kill) sends SIGTERM: the worker stops at the step boundary and
        # keeps its checkpoint if the step ends within this.
        "terminationGracePeriodSeconds": 300,
        "securityContext": {"fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [sidecar],
        "containers": [trainer],
        "volumes": _volumes(config, f"{name}-accelerate"),
        "tolerations": config.tolerations,
    }
    if config.node_selector:
        pod_spec["nodeSelector"] = config.node_selector
    spec: Manifest = {
        "backoffLimit": 0,
        "ttlSecondsAfterFinished": config.ttl_after_finished_s,
        "template": {
            "metadata": {"labels": _metadata(name, job, config, "training")["labels"]},
            "spec": pod_spec,
        },
    }
    deadline = _deadline(job, config)
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(name, job, config, "training"),
        "spec": spec,
    }


# --- Kubeflow TrainJob + a vLLM Deployment and Service ---------------------------------------


def vllm_service_url(name: str, config: KubernetesTrainingSettings) -> str:
    return f"http://{name}-vllm.{config.namespace}.svc:{VLLM_PORT}"


def render_trainjob(name: str, job: TrainingJob, job_dir: Path, resume_from: Path | None,
                    config: KubernetesTrainingSettings) -> Manifest:
    # The Torch runtime puts PET_NNODES, PET_NODE_RANK, PET_MASTER_ADDR, PET_MASTER_PORT in the
    # trainer's environment; Kubernetes expands $(VAR) in args from it.
    accelerate = [
        "accelerate", "launch",
        "--config_file", f"{ACCELERATE_DIR}/{ACCELERATE_FILE}",
        "--num_machines", "$(PET_NNODES)",
        "--machine_rank", "$(PET_NODE_RANK)",
        "--main_process_ip", "$(PET_MASTER_ADDR)",
        "--main_process_port", "$(PET_MASTER_PORT)",
        "--num_processes", str(config.trainer_gpus),
        *worker_args(job_dir, resume_from),
    ]
    settings_env = [
        {"name": key, "valueFrom": {"configMapKeyRef": {
            "name": config.settings_configmap, "key": key, "optional": True}}}
        for key in WORKER_SETTINGS
    ]
    pod_patch: Manifest = {
        "securityContext": {"fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumes": _volumes(config, f"{name}-accelerate"),
        "containers": [{
            "name": TRAINJOB_NODE,
            "volumeMounts": _trainer_mounts(config),
            "securityContext": _TRAINER_SECURITY,
        }],
        "tolerations": config.tolerations,
        "terminationGracePeriodSeconds": 300,
    }
    if config.node_selector:
        pod_patch["nodeSelector"] = config.node_selector
    spec: Manifest = {
        "runtimeRef": {
            "name": config.training_runtime,
            "apiGroup": "trainer.kubeflow.org",
            "kind": "ClusterTrainingRuntime",
        },
        "trainer": {
            "image": config.trainer_image,
            "command": accelerate[:2],
            "args": accelerate[2:],
            "env": [*_trainer_env(vllm_service_url(name, config), config), *settings_env],
            "numNodes": 1,
            "numProcPerNode": config.trainer_gpus,
            "resourcesPerNode": _gpu_resources(config.trainer_cpu, config.trainer_memory,
                                               config.trainer_gpus),
        },
        "runtimePatches": [{
            "manager": PATCH_MANAGER,
            "trainingRuntimeSpec": {"template": {"spec": {"replicatedJobs": [{
                "name": TRAINJOB_NODE,
                "template": {"spec": {"template": {"spec": pod_patch}}},
            }]}}},
        }],
    }
    deadline = _deadline(job, config)
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return {
        "apiVersion": TRAINJOB_API_VERSION,
        "kind": TRAINJOB_KIND,
        "metadata": _metadata(name, job, config, "training"),
        "spec": spec,
    }


def render_vllm_server(name: str, job: TrainingJob,
                       config: KubernetesTrainingSettings) -> list[Manifest]:
    """The rollout server of one TrainJob: a one-replica Deployment and its Service."""
    meta = _metadata(f"{name}-vllm", job, config, "rollouts")
    selector = {"app.kubernetes.io/component": "rollouts", "rft-platform.io/run": name}
    pod_labels = {**meta["labels"], **selector}
    pod_spec: Manifest = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "containers": [vllm_container(job.base_model, config, "0.0.0.0")],
        "volumes": [v for v in _volumes(config, f"{name}-accelerate")
                    if v["name"] != "accelerate"],
        "tolerations": config.tolerations,
    }
    if config.node_selector:
        pod_spec["nodeSelector"] = config.node_selector
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            # its GPUs must be free before a new pod starts, and the weights it holds are the
            # run's: never two servers for one run
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "vllm", "port": VLLM_PORT, "targetPort": "vllm",
                       "protocol": "TCP"}],
        },
    }
    return [deployment, service]


def render_training(job: TrainingJob, job_dir: Path, resume_from: Path | None,
                    config: KubernetesTrainingSettings, *, workload: Workload,
                    name: str) -> list[Manifest]:
    """Every object one training run needs, the run's owner (the Job or TrainJob) first: the
    others are made its dependents at launch, so deleting it deletes them."""
    _check_on_volume(job_dir, config)
    if resume_from is not None:
        _check_on_volume(resume_from, config)
    configmap = accelerate_configmap(name, job, config)
    if workload is Workload.JOB:
        return [render_job(name, job, job_dir, resume_from, config), configmap]
    return [render_trainjob(name, job, job_dir, resume_from, config), configmap,
            *render_vllm_server(name, job, config)]


def owned_by(manifest: Manifest, owner: Manifest) -> Manifest:
    """``manifest`` as a dependent of the created ``owner`` (garbage-collected with it)."""
    meta = owner["metadata"]
    reference = {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                 "name": meta["name"], "uid": meta["uid"], "blockOwnerDeletion": True}
    return {**manifest, "metadata": {**manifest["metadata"], "ownerReferences": [reference]}}


# --- status ----------------------------------------------------------------------------------


def _condition_true(obj: Mapping[str, Any], kinds: tuple[str, ...]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") in kinds and c.get("status") == "True" for c in conditions)


def is_running(obj: Mapping[str, Any] | None) -> bool:
    """A Job or TrainJob that exists and has not finished: neither Complete nor Failed (a Job
    also says SuccessCriteriaMet / FailureTarget just before those)."""
    if obj is None:
        return False
    return not _condition_true(obj, ("Complete", "Failed", "SuccessCriteriaMet", "FailureTarget"))


# --- the cluster -----------------------------------------------------------------------------


class ClusterApi(Protocol):
    """The four calls the backend makes; :class:`KubernetesClusterApi` is the real one."""

    def has_kind(self, api_version: str, kind: str) -> bool: ...

    def create(self, manifest: Manifest) -> Manifest: ...

    def get(self, api_version: str, kind: str, name: str, namespace: str) -> Manifest | None: ...

    def delete(self, api_version: str, kind: str, name: str, namespace: str) -> None: ...


class KubernetesClusterApi:
    """:class:`ClusterApi` on the ``kubernetes`` client's dynamic client (any kind, CRDs too).
    In a pod it uses the pod's service account (deploy/k8s/components/training has its Role),
    elsewhere the kubeconfig."""

    def __init__(self) -> None:
        try:
            from kubernetes import config as kube_config
            from kubernetes.client import ApiClient
            from kubernetes.dynamic import DynamicClient
        except ImportError as err:  # pragma: no cover - depends on the optional extra
            raise ImportError(
                "the kubernetes backend needs the kubernetes client: "
                "pip install 'rft-trainer-gateway[kubernetes]'"
            ) from err
        try:
            kube_config.load_incluster_config()
        except kube_config.ConfigException:
            kube_config.load_kube_config()
        self._client = DynamicClient(ApiClient())

    def _resource(self, api_version: str, kind: str) -> Any:
        return self._client.resources.get(api_version=api_version, kind=kind)

    def has_kind(self, api_version: str, kind: str) -> bool:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            self._resource(api_version, kind)
        except ResourceNotFoundError:
            return False
        return True

    def create(self, manifest: Manifest) -> Manifest:
        resource = self._resource(manifest["apiVersion"], manifest["kind"])
        created = resource.create(body=manifest, namespace=manifest["metadata"]["namespace"])
        return dict(created.to_dict())

    def get(self, api_version: str, kind: str, name: str, namespace: str) -> Manifest | None:
        from kubernetes.dynamic.exceptions import NotFoundError

        try:
            found = self._resource(api_version, kind).get(name=name, namespace=namespace)
        except NotFoundError:
            return None
        return dict(found.to_dict())

    def delete(self, api_version: str, kind: str, name: str, namespace: str) -> None:
        from kubernetes.dynamic.exceptions import NotFoundError

        with contextlib.suppress(NotFoundError):
            self._resource(api_version, kind).delete(
                name=name, namespace=namespace, body={"propagationPolicy": "Background"}
            )


# --- the backend -----------------------------------------------------------------------------


class KubernetesBackend:
    """Launches a run as a TrainJob or a Job; cancel and kill as the module docstring says.

    - cancel: writes the job's cancel flag on the shared volume; the worker polls it and stops
      at the next step boundary, keeping its last checkpoint (the same as the local backend).
    - kill: deletes the Job/TrainJob (its ConfigMap and vLLM server go with it, as dependents).
      The pod gets SIGTERM, which the worker also turns into a stop at the step boundary, and
      SIGKILL after terminationGracePeriodSeconds. The gateway calls it when a cancel is not
      heeded within its grace period (RFT_TRAINER_CANCEL_GRACE_S).
    """

    name = TrainingBackendName.KUBERNETES

    def __init__(self, config: KubernetesTrainingSettings | None = None,
                 api: ClusterApi | None = None) -> None:
        self.config = config or KubernetesTrainingSettings()
        self.api: ClusterApi = api if api is not None else KubernetesClusterApi()
        self._workload: Workload | None = None

    def workload(self) -> Workload:
        """The setting, or (auto) a TrainJob if the cluster serves the CRD; asked once."""
        if self._workload is None:
            if self.config.workload == "auto":
                has_crd = self.api.has_kind(TRAINJOB_API_VERSION, TRAINJOB_KIND)
                self._workload = Workload.TRAINJOB if has_crd else Workload.JOB
            else:
                self._workload = Workload(self.config.workload)
        return self._workload

    def launch(self, job: TrainingJob, files: JobFiles, resume_from: Path | None) -> RunHandle:
        files.cancel_flag.unlink(missing_ok=True)
        workload = self.workload()
        name = resource_name(job.id, secrets.token_hex(3))
        owner, *dependents = render_training(
            job, files.root, resume_from, self.config, workload=workload, name=name
        )
        created = self.api.create(owner)
        handle = RunHandle(backend=self.name, resource=f"{owner['kind']}/{name}")
        try:
            for manifest in dependents:
                self.api.create(owned_by(manifest, created))
        except BaseException:
            # a run without its config or rollout server would only hang: take it down whole
            self.kill(handle)
            raise
        return handle

    def _owner(self, handle: RunHandle) -> tuple[str, str, str] | None:
        if not handle.resource or "/" not in handle.resource:
            return None
        kind, name = handle.resource.split("/", 1)
        api_version = TRAINJOB_API_VERSION if kind == TRAINJOB_KIND else "batch/v1"
        return api_version, kind, name

    def alive(self, handle: RunHandle) -> bool:
        """Raises when the API server cannot be asked: that is not a dead run (resuming it
        would start a second one)."""
        owner = self._owner(handle)
        if owner is None:
            return False
        return is_running(self.api.get(*owner, self.config.namespace))

    def exit_code(self, handle: RunHandle) -> int | None:
        """0 for a Complete run, 1 for a Failed one, None while it runs or once it is gone (the
        supervisor's crash report reads it, as it reads the local child's)."""
        owner = self._owner(handle)
        obj = None if owner is None else self.api.get(*owner, self.config.namespace)
        if obj is None or is_running(obj):
            return None
        return 0 if _condition_true(obj, ("Complete", "SuccessCriteriaMet")) else 1

    def cancel(self, handle: RunHandle, files: JobFiles) -> None:
        files.cancel_flag.parent.mkdir(parents=True, exist_ok=True)
        files.cancel_flag.touch()

    def kill(self, handle: RunHandle) -> None:
        owner = self._owner(handle)
        if owner is not None:
            self.api.delete(*owner, self.config.namespace)
