"""The node overlays in deploy/k8s/overlays: the province (the base's five services, declaring hub donghoi) and the
Đồng Hới hub (only dispatch, handling and sync, in its own namespace). Rendered with `kubectl kustomize` (patches
cannot be read from the files alone) and checked against the schemas of Kubernetes 1.30, like the base."""
from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from paht.runtime import federation
from paht.runtime.settings import SERVICES, Settings

OVERLAYS = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "overlays"
K8S_VERSION = "1.30"
NAMESPACES = {"province": "paht", "hub-donghoi": "paht-donghoi"}
CREDENTIALS_IN_URL = re.compile(r"://[^/@\s]*:[^/@\s]*@")


@cache
def build(overlay: str) -> tuple[dict, ...]:
    if not shutil.which("kubectl"):
        pytest.skip("kubectl is not installed (scripts/test installs it): the overlays need `kubectl kustomize`")
    out = subprocess.run(["kubectl", "kustomize", str(OVERLAYS / overlay)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


def of_kind(overlay: str, kind: str) -> list[dict]:
    return [d for d in build(overlay) if d["kind"] == kind]


def names(overlay: str, kind: str) -> set[str]:
    return {d["metadata"]["name"] for d in of_kind(overlay, kind)}


def config(overlay: str) -> dict:
    (cm,) = [d for d in of_kind(overlay, "ConfigMap") if d["metadata"]["name"] == "paht-config"]
    return cm["data"]


def routes(overlay: str) -> dict[str, str]:
    (ingress,) = of_kind(overlay, "Ingress")
    return {p["path"]: p["backend"]["service"]["name"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}


def test_overlays_are_the_province_and_the_hub():
    assert {p.name for p in OVERLAYS.iterdir() if p.is_dir()} == set(NAMESPACES)


@pytest.mark.parametrize("overlay", sorted(NAMESPACES))
def test_every_object_is_valid_for_kubernetes_1_30(overlay):
    for doc in build(overlay):
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{overlay}: {doc['kind']}/{doc['metadata']['name']}: {path}: {exc.message}")


@pytest.mark.parametrize("overlay", sorted(NAMESPACES))
def test_everything_is_in_the_nodes_namespace(overlay):
    namespace = NAMESPACES[overlay]
    assert names(overlay, "Namespace") == {namespace}
    for doc in build(overlay):
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace, f"{doc['kind']}/{doc['metadata']['name']}"
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "paht"


@pytest.mark.parametrize("overlay", sorted(NAMESPACES))
def test_no_secret_and_no_credentials_in_the_config(overlay):
    assert of_kind(overlay, "Secret") == []
    data = config(overlay)
    assert "DATABASE_URL" not in data
    for name, value in data.items():
        assert not CREDENTIALS_IN_URL.search(value), f"ConfigMap {name} carries credentials"


@pytest.mark.parametrize("overlay", sorted(NAMESPACES))
def test_services_take_nats_url_with_its_password_from_a_secret(overlay):
    for d in of_kind(overlay, "Deployment"):
        env = {e["name"]: e for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["NATS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "paht-nats", "key": "url"}, d["metadata"]["name"]


@pytest.mark.parametrize("overlay", sorted(NAMESPACES))
def test_the_config_is_one_paht_accepts(overlay, monkeypatch):
    for name, value in config(overlay).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://db.example/paht")
    settings = Settings(_env_file=None)  # production: refuses a missing NATS_URL; federation.check refuses bad names
    assert federation.role(settings) == ("hub" if overlay.startswith("hub-") else "province")


@pytest.mark.parametrize("overlay", sorted(NAMESPACES))
def test_grpc_addresses_name_only_services_that_exist(overlay):
    services = names(overlay, "Service")
    grpc = {k.removeprefix("PAHT_GRPC_").lower(): v for k, v in config(overlay).items()
            if k.removeprefix("PAHT_GRPC_").lower() in SERVICES}
    assert set(grpc) == names(overlay, "Deployment") == services
    for svc, address in grpc.items():
        assert address == f"{svc}:50051"


@pytest.mark.parametrize("overlay", sorted(NAMESPACES))
def test_ingress_has_a_host_tls_and_only_existing_backends(overlay):
    (ingress,) = of_kind(overlay, "Ingress")
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts and all(hosts)
    assert {h for t in ingress["spec"]["tls"] for h in t["hosts"]} == set(hosts)
    assert set(routes(overlay).values()) <= names(overlay, "Service")


@pytest.mark.parametrize("overlay", sorted(NAMESPACES))
def test_network_policies_admit_every_service_of_the_node(overlay):
    policies = {p["metadata"]["name"]: p for p in of_kind(overlay, "NetworkPolicy")}
    assert set(policies) == {"default-deny-ingress", "allow-from-ingress-controller", "allow-between-services"}
    for d in of_kind(overlay, "Deployment"):
        labels = d["spec"]["template"]["metadata"]["labels"]
        for name in ("allow-from-ingress-controller", "allow-between-services"):
            assert policies[name]["spec"]["podSelector"]["matchLabels"].items() <= labels.items(), (name, d["metadata"]["name"])


# ---------------------------------------------------------------------------------------------------------------
# The province


def test_province_runs_every_service_and_declares_donghoi():
    assert names("province", "Deployment") == set(SERVICES)
    data = config("province")
    assert "donghoi" in [h.strip() for h in data["PAHT_HUBS"].split(",")]
    assert data["PAHT_NODE_ID"] == federation.PROVINCE and not data.get("PAHT_PARENT_NODE")
    assert data["PAHT_LEAF_PUBLIC_URL"].startswith("tls://")


def test_province_sync_reads_the_join_secrets_where_the_join_looks():
    (sync,) = [d for d in of_kind("province", "Deployment") if d["metadata"]["name"] == "sync"]
    spec = sync["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    data_dir = next(e["value"] for e in container["env"] if e["name"] == "PAHT_DATA")
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == f"{data_dir}/federation"]
    assert mount["readOnly"] is True
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "paht-federation"


# ---------------------------------------------------------------------------------------------------------------
# The hub


def test_hub_runs_no_intake():
    assert names("hub-donghoi", "Deployment") == set(federation.HUB_SERVICES) == {"dispatch", "handling", "publication", "sync"}
    assert names("hub-donghoi", "Service") == set(federation.HUB_SERVICES)
    assert names("hub-donghoi", "PodDisruptionBudget") == set(federation.HUB_SERVICES)
    for d in build("hub-donghoi"):
        assert d["metadata"]["labels"].get("app.kubernetes.io/name") != "intake"


def test_hub_config():
    data = config("hub-donghoi")
    assert data["PAHT_NODE_ID"] == "donghoi"
    assert data["PAHT_PARENT_NODE"] == federation.PROVINCE
    assert not data.get("PAHT_HUBS")
    assert data["NATS_URL"] != config("province")["NATS_URL"], "a hub has its own NATS, never the province's"
    assert data["PAHT_DB_SCHEMA_PREFIX"] == "donghoi_"
    assert not any(k.startswith(("PAHT_SMS_", "PAHT_SMTP_")) for k in data), "intake's gateways on a node without intake"


def test_hub_migrates_only_its_services():
    (job,) = of_kind("hub-donghoi", "Job")
    (c,) = job["spec"]["template"]["spec"]["containers"]
    assert c["command"] == ["paht", "migrate", *federation.HUB_SERVICES]


def test_hub_routes_lead_to_its_services_and_home_is_the_work_list():
    r = routes("hub-donghoi")
    assert r == {"/api/dispatch": "dispatch", "/dispatch": "dispatch", "/auth": "dispatch", "/.well-known": "dispatch",
                 "/api/handling": "handling", "/handling": "handling", "/api/publication": "publication", "/publication": "publication",
                 "/api/sync": "sync", "/sync": "sync", "/": "handling"}
    (ingress,) = of_kind("hub-donghoi", "Ingress")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/app-root"] == "/handling/"
    assert [rule["host"] for rule in ingress["spec"]["rules"]] != [rule["host"] for rule in of_kind("province", "Ingress")[0]["spec"]["rules"]]


def test_intake_on_the_province_and_handling_on_the_hub_share_the_hubs_secret():
    """What a hub asks the province for a case it owns (its files, the reporter's contact) needs the hub's secret on
    both sides: the province's intake reads <PAHT_DATA>/federation/<hub>.secret, the hub's handling PAHT_JOIN_SECRET_FILE."""
    (intake,) = [d for d in of_kind("province", "Deployment") if d["metadata"]["name"] == "intake"]
    spec = intake["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    data_dir = next(e["value"] for e in container["env"] if e["name"] == "PAHT_DATA")
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == f"{data_dir}/federation"]
    assert next(v for v in spec["volumes"] if v["name"] == mount["name"])["secret"]["secretName"] == "paht-federation"

    (handling,) = [d for d in of_kind("hub-donghoi", "Deployment") if d["metadata"]["name"] == "handling"]
    spec = handling["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    secret_file = next(e["value"] for e in container["env"] if e["name"] == "PAHT_JOIN_SECRET_FILE")
    (mount,) = [m for m in container["volumeMounts"] if secret_file.startswith(m["mountPath"] + "/")]
    assert next(v for v in spec["volumes"] if v["name"] == mount["name"])["secret"]["secretName"] == "paht-join"
    assert config("hub-donghoi")["PAHT_PARENT_URL"] == config("province")["PAHT_PUBLIC_URL"]
