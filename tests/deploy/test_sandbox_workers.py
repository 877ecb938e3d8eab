"""The sandbox-workers Deployment (issue 14): python graders' code runs in pods of its own that
the grader calls, with no egress, no service-account token and a read-only root file system."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.deploy.conftest import k8s, rendered

NAME = "sandbox-workers"


def pod_spec(target: str, name: str) -> dict:
    deployment = k8s.find(rendered(target), "Deployment", name)
    assert deployment is not None, f"no Deployment/{name} in {target}"
    spec: dict = deployment["spec"]["template"]["spec"]
    return spec


def test_sandbox_workers_run_without_token_privilege_or_writable_root(target: str) -> None:
    spec = pod_spec(target, NAME)
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    for c in spec["containers"]:
        assert c["command"] == ["python", "-m", "rft_grader.sandbox.server"]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    # What grader code can write is bounded.
    assert all(v["emptyDir"].get("sizeLimit") for v in spec["volumes"])


def test_sandbox_workers_have_no_egress_and_only_the_graders_ingress(target: str) -> None:
    objs = rendered(target)
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"
                and o["spec"]["podSelector"]["matchLabels"].get("app.kubernetes.io/name")
                == NAME]
    assert len(policies) == 1
    spec = policies[0]["spec"]
    assert "Egress" in spec["policyTypes"] and not spec.get("egress")
    [rule] = spec["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "grader"}}}]
    assert rule["ports"] == [{"port": 8000, "protocol": "TCP"}]


def test_the_grader_calls_the_sandbox_service_and_the_service_does_not_call_itself(
        target: str) -> None:
    objs = rendered(target)
    grader = k8s.find(objs, "Deployment", "grader")
    env = {e["name"]: e.get("value") for e in grader["spec"]["template"]["spec"]["containers"][0]
           .get("env", [])}
    url = urlsplit(env["RFT_GRADER_SANDBOX_URL"])
    service = k8s.find(objs, "Service", NAME)
    assert url.hostname == f"{NAME}.{k8s.NAMESPACE}.svc"
    assert url.port in {p["port"] for p in service["spec"]["ports"]}
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": NAME}
    # In the shared ConfigMap it would reach the sandbox service too, which would call itself.
    settings = k8s.find(objs, "ConfigMap", k8s.SETTINGS_CONFIGMAP)["data"]
    assert "RFT_GRADER_SANDBOX_URL" not in settings
    workers_env = {e["name"] for c in pod_spec(target, NAME)["containers"]
                   for e in c.get("env", [])}
    assert "RFT_GRADER_SANDBOX_URL" not in workers_env
