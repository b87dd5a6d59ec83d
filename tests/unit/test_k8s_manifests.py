"""The Kubernetes base in deploy/k8s/base: valid for Kubernetes 1.30, complete, hardened, routed as designed."""
import re
import subprocess
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

BASE = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base"
K8S_VERSION = "1.30"
SERVICES = ("intake", "dispatch", "handling", "publication", "sync")
IMAGE = "ghcr.io/paht-project/paht"
HARDENED = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
}
# user:password@ in a URL
CREDENTIALS_IN_URL = re.compile(r"://[^/@\s]*:[^/@\s]*@")


def manifest_files() -> list[Path]:
    return sorted(p for p in BASE.rglob("*.y*ml") if p.name != "kustomization.yaml")


@cache
def kustomization() -> dict:
    return yaml.safe_load((BASE / "kustomization.yaml").read_text(encoding="utf-8"))


@cache
def documents() -> tuple[tuple[str, dict], ...]:
    """Return (file name, object) for every YAML document in the base, kustomization excluded."""
    docs = []
    for path in manifest_files():
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                docs.append((str(path.relative_to(BASE)), doc))
    return tuple(docs)


def of_kind(kind: str) -> list[dict]:
    return [doc for _, doc in documents() if doc["kind"] == kind]


def named(kind: str, name: str) -> dict:
    found = [doc for doc in of_kind(kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} named {name}, found {len(found)}"
    return found[0]


def workloads() -> list[dict]:
    return of_kind("Deployment") + of_kind("Job")


def containers() -> list[tuple[str, dict]]:
    return [(f"{w['kind']}/{w['metadata']['name']}/{c['name']}", c)
            for w in workloads()
            for c in w["spec"]["template"]["spec"].get("initContainers", []) + w["spec"]["template"]["spec"]["containers"]]


def config() -> dict:
    return named("ConfigMap", "paht-config")["data"]


def test_base_has_manifests():
    assert len(documents()) >= 15
    assert {"Namespace", "ConfigMap", "Deployment", "Service", "Job", "Ingress",
            "PodDisruptionBudget", "NetworkPolicy"} <= {doc["kind"] for _, doc in documents()}


@pytest.mark.parametrize("where,doc", [pytest.param(w, d, id=f"{w}:{d['kind']}/{d['metadata']['name']}")
                                       for w, d in documents()])
def test_document_is_valid_for_kubernetes_1_30(where, doc):
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        pytest.fail(f"{where}: {doc['kind']}/{doc['metadata']['name']}: {path}: {exc.message}")
    except kubernetes_validate.SchemaNotFoundError as exc:
        pytest.fail(f"{where}: {exc.message}")


def test_kustomization_lists_exactly_the_manifest_files():
    listed = kustomization()["resources"]
    assert len(listed) == len(set(listed)), "a resource is listed twice"
    missing = [r for r in listed if not (BASE / r).is_file()]
    assert not missing, f"listed in kustomization.yaml but absent: {missing}"
    on_disk = {str(p.relative_to(BASE)) for p in manifest_files()}
    assert on_disk - set(listed) == set(), "manifest files not listed in kustomization.yaml"


def test_kustomization_sets_namespace_and_part_of_label():
    k = kustomization()
    assert k["namespace"] == "paht"
    assert named("Namespace", "paht")
    assert any(entry["pairs"].get("app.kubernetes.io/part-of") == "paht" and entry.get("includeTemplates")
               for entry in k["labels"])


def test_no_secret_values_in_the_base():
    assert of_kind("Secret") == [], "Secrets are created out of band, never committed"


@pytest.mark.parametrize("where,container", [pytest.param(w, c, id=w) for w, c in containers()])
def test_container_is_hardened(where, container):
    ctx = container.get("securityContext", {})
    for field, value in HARDENED.items():
        assert ctx.get(field) == value, f"{where}: securityContext.{field} must be {value}"
    assert ctx.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: must drop ALL capabilities"
    assert not ctx.get("capabilities", {}).get("add"), f"{where}: adds capabilities"
    assert ctx.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: seccompProfile"
    assert not ctx.get("privileged"), f"{where}: privileged"
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    assert "/tmp" in mounts, f"{where}: read-only root needs a writable /tmp"


@pytest.mark.parametrize("where,container", [pytest.param(w, c, id=w) for w, c in containers()])
def test_container_has_requests_and_limits(where, container):
    resources = container.get("resources", {})
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources.get(kind, {})), f"{where}: resources.{kind} needs cpu and memory"


@pytest.mark.parametrize("where,container", [pytest.param(w, c, id=w) for w, c in containers()])
def test_image_is_pinned(where, container):
    image = container["image"]
    assert image.startswith(IMAGE), f"{where}: unexpected image {image}"
    if "@sha256:" in image:
        return
    name = image.rsplit("/", 1)[-1]
    assert ":" in name, f"{where}: {image} has no tag"
    assert name.split(":", 1)[1] not in ("", "latest"), f"{where}: {image} is not pinned"


def test_pod_specs_mount_no_service_account_token_and_tmp_is_empty_dir():
    for w in workloads():
        spec = w["spec"]["template"]["spec"]
        assert spec.get("automountServiceAccountToken") is False, w["metadata"]["name"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in spec["containers"]:
            tmp = next(m["name"] for m in c["volumeMounts"] if m["mountPath"] == "/tmp")
            assert "emptyDir" in volumes[tmp], f"{w['metadata']['name']}: /tmp is not an emptyDir"


def test_database_url_comes_from_the_secret_and_no_url_carries_a_password():
    for where, c in containers():
        env = {e["name"]: e for e in c.get("env", [])}
        assert "DATABASE_URL" in env, f"{where}: no DATABASE_URL"
        assert "value" not in env["DATABASE_URL"], f"{where}: DATABASE_URL in plain text"
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "paht-database", "key": "url"}
        for name, e in env.items():
            if "URL" in name.upper() and "value" in e:
                assert not CREDENTIALS_IN_URL.search(e["value"]), f"{where}: {name} carries credentials"
        refs = [s["configMapRef"]["name"] for s in c.get("envFrom", []) if "configMapRef" in s]
        assert refs == ["paht-config"], f"{where}: settings come from the paht-config ConfigMap"
    data = config()
    assert "DATABASE_URL" not in data
    for name, value in data.items():
        if "URL" in name.upper():
            assert not CREDENTIALS_IN_URL.search(value), f"ConfigMap {name} carries credentials"


def test_config_names_every_service_and_production_settings():
    data = config()
    assert data["PAHT_ENV"] == "production"
    assert data["PAHT_NODE_ID"] == "province"
    assert data["PAHT_HTTP_HOST"] == "0.0.0.0", "services bind 127.0.0.1 by default"
    assert data["NATS_URL"].startswith("nats://")
    for svc in SERVICES:
        assert data[f"PAHT_GRPC_{svc.upper()}"] == f"{svc}:50051"


@pytest.mark.parametrize("svc", SERVICES)
def test_service_has_deployment_service_and_pdb(svc):
    deployment = named("Deployment", svc)
    pod = deployment["spec"]["template"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == svc
    assert pod["metadata"]["labels"]["app.kubernetes.io/part-of"] == "paht"
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["paht", "serve", svc]
    assert {(p["name"], p["containerPort"]) for p in container["ports"]} == {("http", 8000), ("grpc", 50051)}

    service = named("Service", svc)
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert {(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        ("http", 8000, "http"), ("grpc", 50051, "grpc")}

    pdb = named("PodDisruptionBudget", svc)
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def _probe_port(probe: dict, container: dict) -> int:
    port = probe.get("httpGet", probe.get("grpc", {})).get("port")
    if isinstance(port, str):
        return next(p["containerPort"] for p in container["ports"] if p["name"] == port)
    return port


@pytest.mark.parametrize("svc", SERVICES)
def test_probes(svc):
    (c,) = named("Deployment", svc)["spec"]["template"]["spec"]["containers"]
    ready = c["readinessProbe"]
    assert ready["httpGet"]["path"] == "/healthz" and _probe_port(ready, c) == 8000
    assert "startupProbe" in c
    live = c["livenessProbe"]
    if "grpc" in live:
        # The kubelet's gRPC probe is plaintext with no client certificate: it cannot pass an mTLS port.
        mtls_port = config().get("PAHT_GRPC_TLS", "off") != "off"
        assert not (mtls_port and _probe_port(live, c) == 50051), (
            "a grpc liveness probe on 50051 fails while PAHT_GRPC_TLS is on; probe a plaintext health port")
    else:
        assert live["httpGet"]["path"] == "/livez" and _probe_port(live, c) == 8000


def test_grpc_tls_secret_is_mounted_where_config_points():
    data = config()
    folder = str(Path(data["PAHT_GRPC_CERT"]).parent)
    assert {str(Path(data[k]).parent) for k in ("PAHT_GRPC_CERT", "PAHT_GRPC_KEY", "PAHT_GRPC_CA")} == {folder}
    for svc in SERVICES:
        spec = named("Deployment", svc)["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        (mount,) = [m for m in spec["containers"][0]["volumeMounts"] if m["mountPath"] == folder]
        assert mount.get("readOnly") is True
        assert volumes[mount["name"]]["secret"]["secretName"] == "paht-grpc-tls"
        # Secret files are root-owned: the non-root user reads them through fsGroup.
        assert spec["securityContext"]["fsGroup"] == 10001


def test_migrate_job_runs_paht_migrate():
    job = named("Job", "paht-migrate")
    (c,) = job["spec"]["template"]["spec"]["containers"]
    assert c["command"] == ["paht", "migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")


def _route(path: str) -> str:
    """Return the Service the Ingress sends `path` to (Prefix: whole segments, longest match wins)."""
    (ingress,) = of_kind("Ingress")
    best, target = -1, None
    for rule in ingress["spec"]["rules"]:
        for p in rule["http"]["paths"]:
            prefix = p["path"].rstrip("/")
            if p["pathType"] == "Exact":
                hit = path == p["path"]
            else:
                hit = prefix == "" or path == prefix or path.startswith(prefix + "/")
            if hit and len(prefix) > best:
                best, target = len(prefix), p["backend"]["service"]["name"]
    return target


@pytest.mark.parametrize("path,svc", [
    *[(f"/api/{s}/reports/1", s) for s in SERVICES],
    *[(f"/{s}/", s) for s in SERVICES],
    ("/api/intake", "intake"),
    ("/auth/token", "dispatch"),
    ("/.well-known/openid-configuration", "dispatch"),
    ("/", "publication"),
    ("/track", "publication"),
    ("/track/PA-2025-0001", "publication"),
    ("/reports", "publication"),
    ("/open311/v2/services.json", "publication"),
    ("/static/app.css", "publication"),
    ("/intakes", "publication"),
])
def test_ingress_routes(path, svc):
    assert _route(path) == svc


def test_ingress_lists_every_documented_prefix():
    # "/" already catches the public paths; listing them keeps them there if "/" ever narrows.
    listed = {p["path"] for rule in of_kind("Ingress")[0]["spec"]["rules"] for p in rule["http"]["paths"]}
    documented = {f"/api/{s}" for s in SERVICES} | {f"/{s}" for s in SERVICES} | {
        "/auth", "/.well-known", "/", "/track", "/reports", "/open311", "/static"}
    assert documented <= listed, f"missing from the Ingress: {sorted(documented - listed)}"


def test_ingress_backends_exist():
    services = {s["metadata"]["name"]: s for s in of_kind("Service")}
    for rule in of_kind("Ingress")[0]["spec"]["rules"]:
        for p in rule["http"]["paths"]:
            backend = p["backend"]["service"]
            assert backend["name"] in services
            assert backend["port"] == {"name": "http"}


def test_network_policies_admit_only_the_ingress_controller_and_paht_pods():
    policies = of_kind("NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")]
    assert deny and deny[0]["spec"]["policyTypes"] == ["Ingress"], "no default-deny ingress policy"
    for svc in SERVICES:
        labels = named("Deployment", svc)["spec"]["template"]["metadata"]["labels"]
        sources, ports = set(), set()
        for p in policies:
            if not p["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items():
                continue
            for rule in p["spec"].get("ingress", []):
                assert rule.get("from"), f"{p['metadata']['name']}: a rule without `from` admits everyone"
                for peer in rule["from"]:
                    assert "ipBlock" not in peer
                    if "namespaceSelector" in peer:
                        assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "ingress-nginx"}
                        assert {x["port"] for x in rule["ports"]} == {8000}
                        sources.add("ingress-controller")
                    else:
                        assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/part-of": "paht"}
                        sources.add("paht")
                        ports |= {x["port"] for x in rule["ports"]}
        assert sources == {"ingress-controller", "paht"}, svc
        assert ports == {8000, 50051}, svc


def test_kustomize_build_puts_everything_in_paht():
    out = subprocess.run(["kubectl", "kustomize", str(BASE)], capture_output=True, text=True, timeout=60, check=True)
    rendered = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert len(rendered) == len(documents())
    for doc in rendered:
        meta = doc["metadata"]
        assert meta["labels"]["app.kubernetes.io/part-of"] == "paht", meta["name"]
        if doc["kind"] != "Namespace":
            assert meta["namespace"] == "paht", meta["name"]
        if doc["kind"] in ("Deployment", "Job"):
            assert doc["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/part-of"] == "paht"
