"""The Helm chart, offline: lint, render, Kubernetes schema validation and our own rules."""

import importlib
import importlib.util
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from pydantic import AliasChoices

from services.common.settings import ServiceSettings

CHART = Path(__file__).resolve().parents[2] / "helm" / "crm"
NAMESPACE = "crm-prod"
# The oldest version the chart supports (Chart.yaml kubeVersion) and the newest we can check.
KUBE_VERSIONS = ["1.28.0", "1.37.0"]

Manifest = dict[str, Any]

OVERRIDES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "profile-3-replicas-no-gateway": {
        "components": {
            "profile": {"replicas": 3, "hpa": {"enabled": False}},
            "gateway": {"enabled": False},
            "search": {"enabled": False},
            "auth": {"enabled": False},
            "tagging": {"enabled": False},
            "analytics": {"enabled": False},
        },
    },
    "image-per-component": {
        "default": {
            "image": {"repository": "registry.example.com/crm", "tag": "2.0.1", "perComponent": True}
        },
        "components": {"gateway": {"pdb": {"minAvailable": "50%"}, "resources": {"limits": {"cpu": "1"}}}},
    },
    "existing-tls-secrets-private-gateway": {
        "tls": {"certManager": {"enabled": False}},
        "components": {
            name: {"tls": {"existingSecret": f"crm-{name}-mtls"}}
            for name in ("auth", "profile", "search", "tagging", "analytics", "gateway")
        }
        | {
            "gateway": {
                "tls": {"existingSecret": "crm-gateway-mtls"},
                "networkPolicy": {
                    "public": False,
                    "ingressFrom": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
                            }
                        }
                    ],
                },
            }
        },
    },
    "plaintext-behind-a-mesh": {"tls": {"enabled": False}, "networkPolicy": {"enabled": False}},
}
# Kinds of custom resources the chart renders, checked by their own tests below (kubernetes-validate
# knows only Kubernetes' own kinds).
CUSTOM_KINDS = {("cert-manager.io/v1", "Certificate")}


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    """The chart, loaded once."""
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def render(chart: helm.Chart, values: dict[str, Any] | None = None) -> list[Manifest]:
    """Every object the chart renders with values, hooks included, in a stable order."""
    files = chart.render(values or {}, name="crm", namespace=NAMESPACE)
    return [
        doc
        for path, text in sorted(files.items())
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def of_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    """The objects of one kind by name."""
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def container(workload: Manifest) -> Manifest:
    """The only container of a Deployment, Job or CronJob."""
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    containers = spec["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def pod_spec(workload: Manifest) -> Manifest:
    """The pod spec of a Deployment, Job or CronJob."""
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def env_of(workload: Manifest) -> dict[str, Any]:
    """The container's environment: name -> value, or the valueFrom block."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(workload)["env"]}


def enabled_components(values: dict[str, Any]) -> list[str]:
    """Names of the enabled components once values are merged over the defaults."""
    return [name for name, c in values["components"].items() if c["enabled"]]


def worker_names(values: dict[str, Any]) -> set[str]:
    """Deployments of the enabled components' background workers (<component>-<key>)."""
    return {
        f"{name}-{key}"
        for name in enabled_components(values)
        for key, w in (values["components"][name].get("workers") or {}).items()
        if w["enabled"]
    }


def package_of(workload: Manifest) -> str:
    """The component (services/<name>) a workload belongs to."""
    return str(workload["metadata"]["labels"]["app.kubernetes.io/name"])


def test_chart_lints_strictly() -> None:
    report = helm.lint(CHART, strict=True, namespace=NAMESPACE)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == [], report


def test_chart_lints_on_the_oldest_supported_kubernetes() -> None:
    report = helm.lint(CHART, strict=True, namespace=NAMESPACE, kube_version=f"v{KUBE_VERSIONS[0]}")
    assert report["errors"] == [], report


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("case", OVERRIDES)
def test_every_manifest_is_valid_kubernetes(chart: helm.Chart, case: str, kube_version: str) -> None:
    manifests = render(chart, OVERRIDES[case])
    assert manifests
    for manifest in manifests:
        if (manifest["apiVersion"], manifest["kind"]) in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(manifest, kube_version, strict=True)


@pytest.mark.parametrize("case", OVERRIDES)
def test_every_workload_is_hardened(chart: helm.Chart, case: str) -> None:
    manifests = render(chart, OVERRIDES[case])
    workloads = [m for m in manifests if m["kind"] in ("Deployment", "Job", "CronJob")]
    assert workloads
    for workload in workloads:
        pod, box = pod_spec(workload), container(workload)
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["runAsUser"] > 0, where
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert pod["automountServiceAccountToken"] is False, where
        security = box["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, where
        assert security["allowPrivilegeEscalation"] is False, where
        assert security["runAsNonRoot"] is True, where
        assert security["capabilities"]["drop"] == ["ALL"] and "add" not in security["capabilities"], where
        tmp_mount = {"name": "tmp", "mountPath": "/tmp"}  # noqa: S108 - the pod's own emptyDir
        assert tmp_mount in box["volumeMounts"], where
        assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"], where
        assert box["resources"]["requests"]["cpu"] and box["resources"]["requests"]["memory"], where
        assert box["resources"]["limits"]["memory"], where


def test_probes(chart: helm.Chart) -> None:
    deployments = of_kind(render(chart), "Deployment")
    profile, gateway = container(deployments["profile"]), container(deployments["gateway"])
    # The kubelet's gRPC probes cannot do TLS: they ask the plaintext health-only port.
    health_port = {p["name"]: p["containerPort"] for p in profile["ports"]}["health"]
    assert env_of(deployments["profile"])["CRM_GRPC_HEALTH_PORT"] == str(health_port)
    # Readiness follows the database; liveness and startup only ask whether the process serves.
    assert profile["readinessProbe"]["grpc"] == {"port": health_port}
    for probe in ("startupProbe", "livenessProbe"):
        assert profile[probe]["grpc"] == {"port": health_port, "service": "liveness"}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert "httpGet" not in profile[probe]
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert gateway["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}


@pytest.mark.parametrize("case", OVERRIDES)
def test_one_name_everywhere(chart: helm.Chart, case: str) -> None:
    values = chart.merge_values(OVERRIDES[case])
    manifests = render(chart, OVERRIDES[case])
    names = enabled_components(values)
    image = values["default"]["image"]
    for kind in ("Deployment", "Service", "ServiceAccount", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        expected = {n for n in names if kind not in ("HorizontalPodAutoscaler", "PodDisruptionBudget")}
        expected |= {
            n
            for n in names
            if (kind == "HorizontalPodAutoscaler" and values["components"][n]["hpa"]["enabled"])
            or (kind == "PodDisruptionBudget" and values["components"][n]["pdb"]["enabled"])
        }
        if kind == "Deployment":
            expected |= worker_names(values)
        assert set(of_kind(manifests, kind)) - {f"{n}-migrate" for n in names} == expected, kind
    for workload, deployment in of_kind(manifests, "Deployment").items():
        name = package_of(deployment)
        box = container(deployment)
        assert box["name"] == name
        assert box["command"] == ["python", "-m", f"services.{name}"]
        assert env_of(deployment)["OTEL_SERVICE_NAME"] == name
        assert pod_spec(deployment)["serviceAccountName"] == name
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == name and labels["app.kubernetes.io/component"] == workload
        suffix = f"-{name}" if image["perComponent"] else ""
        assert box["image"] == f"{image['repository']}{suffix}:{image['tag'] or chart.metadata['appVersion']}"
        assert importlib.util.find_spec(f"services.{name}.__main__"), f"no services/{name}/__main__.py"


def test_standard_labels(chart: helm.Chart) -> None:
    for manifest in render(chart):
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "crm"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == chart.metadata["appVersion"]
        assert labels["app.kubernetes.io/name"] and labels["app.kubernetes.io/component"]


def test_hpa_and_pdb_per_enabled_component(chart: helm.Chart) -> None:
    manifests = render(chart)
    workers = worker_names(chart.merge_values({}))
    deployments = {k: v for k, v in of_kind(manifests, "Deployment").items() if k not in workers}
    hpas, pdbs = of_kind(manifests, "HorizontalPodAutoscaler"), of_kind(manifests, "PodDisruptionBudget")
    assert (
        set(hpas)
        == set(pdbs)
        == set(deployments)
        == {"auth", "profile", "search", "tagging", "analytics", "gateway"}
    )
    for name, deployment in deployments.items():
        assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
        hpa = hpas[name]["spec"]
        assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
        assert hpa["metrics"][0]["resource"]["name"] == "cpu"
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert pdbs[name]["spec"]["selector"]["matchLabels"] == selector
        assert pdbs[name]["spec"]["minAvailable"] < hpa["minReplicas"]


def test_overrides_scale_and_disable(chart: helm.Chart) -> None:
    manifests = render(chart, OVERRIDES["profile-3-replicas-no-gateway"])
    deployments = of_kind(manifests, "Deployment")
    assert set(deployments) == {"profile"}
    assert deployments["profile"]["spec"]["replicas"] == 3
    assert "profile" not in of_kind(manifests, "HorizontalPodAutoscaler")
    assert set(of_kind(manifests, "PodDisruptionBudget")) == {"profile"}
    assert not [m for m in manifests if m["metadata"]["name"].startswith(("gateway", "search", "auth"))]


def test_database_url_only_from_a_secret(chart: helm.Chart) -> None:
    manifests = render(chart)
    values = chart.merge_values({})
    ref = values["components"]["profile"]["secretEnv"]["CRM_PROFILE_DATABASE_URL"]
    users = [
        m
        for m in manifests
        if m["kind"] in ("Deployment", "Job", "CronJob")
        and m["metadata"]["labels"]["app.kubernetes.io/name"] == "profile"
    ]
    assert {m["kind"] for m in users} == {"Deployment", "Job", "CronJob"}
    for workload in users:
        assert env_of(workload)["CRM_PROFILE_DATABASE_URL"] == {
            "secretKeyRef": {"name": ref["secretName"], "key": ref["key"]}
        }
    assert "CRM_PROFILE_DATABASE_URL" not in env_of(of_kind(manifests, "Deployment")["gateway"])
    assert not of_kind(manifests, "Secret"), "the chart never creates secrets"
    assert "postgresql" not in yaml.safe_dump_all(manifests)


def test_addresses_agree(chart: helm.Chart) -> None:
    manifests = render(chart)
    deployments, services = of_kind(manifests, "Deployment"), of_kind(manifests, "Service")
    profile = container(deployments["profile"])
    ports = {p["name"]: p["containerPort"] for p in profile["ports"]}
    env = env_of(deployments["profile"])
    assert env["CRM_PROFILE_LISTEN_ADDRESS"] == f"0.0.0.0:{ports['grpc']}"
    assert env["CRM_METRICS_PORT"] == str(ports["metrics"])
    annotations = deployments["profile"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(ports["metrics"])
    assert services["profile"]["spec"]["clusterIP"] == "None", "headless, for client-side round_robin"
    assert {p["name"]: p["port"] for p in services["profile"]["spec"]["ports"]}["grpc"] == ports["grpc"]

    gateway_env = env_of(deployments["gateway"])
    assert gateway_env["PROFILE_ADDR"] == f"dns:///profile.{NAMESPACE}.svc.cluster.local:{ports['grpc']}"
    assert gateway_env["CRM_GATEWAY_HOST"] == "0.0.0.0"
    gateway_port = {p["name"]: p["containerPort"] for p in container(deployments["gateway"])["ports"]}["http"]
    assert gateway_env["CRM_GATEWAY_PORT"] == str(gateway_port)
    gateway_annotations = deployments["gateway"]["spec"]["template"]["metadata"]["annotations"]
    assert gateway_annotations["prometheus.io/port"] == str(gateway_port)
    assert gateway_annotations["prometheus.io/path"] == "/metrics"
    assert "clusterIP" not in services["gateway"]["spec"]


def settings_class(name: str) -> type[ServiceSettings]:
    """The one ServiceSettings subclass in services/<name>/settings.py."""
    module = importlib.import_module(f"services.{name}.settings")
    found = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, ServiceSettings) and cls.__module__ == module.__name__
    ]
    assert len(found) == 1, found
    return found[0]


def _env_name(alias: object, field_name: str) -> str:
    if isinstance(alias, AliasChoices):
        alias = alias.choices[0]
    return str(alias or f"CRM_{field_name}").upper()


def test_environment_matches_the_settings(chart: helm.Chart, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every CRM_* or *_ADDR variable the chart sets is a real setting and parses in production."""
    for deployment in of_kind(render(chart), "Deployment").values():
        name = package_of(deployment)
        cls = settings_class(name)
        known = {
            _env_name(field.validation_alias, field_name) for field_name, field in cls.model_fields.items()
        }
        env = env_of(deployment)
        ours = {k for k in env if k.startswith("CRM_") or k.endswith("_ADDR")}
        assert ours <= known, f"{name}: unknown settings {ours - known}"
        for key, value in env.items():
            monkeypatch.setenv(key, value if isinstance(value, str) else "postgresql+psycopg://u@db/crm")
        settings = cls()
        assert settings.mode == "production"
        tls = settings.grpc_tls()  # production refuses plaintext gRPC without the opt-out
        assert tls is not None and tls.ca.parent == Path(chart.merge_values({})["tls"]["mountPath"])
        for key in env:
            monkeypatch.delenv(key)


def test_migration_job_is_a_hook(chart: helm.Chart) -> None:
    manifests = render(chart)
    job = of_kind(manifests, "Job")["profile-migrate"]
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    box = container(job)
    assert box["command"] == ["python", "-m", "services.profile"] and box["args"] == ["migrate"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    account = of_kind(manifests, "ServiceAccount")[pod_spec(job)["serviceAccountName"]]
    hook_weight = int(account["metadata"]["annotations"]["helm.sh/hook-weight"])
    assert account["metadata"]["annotations"]["helm.sh/hook"] == annotations["helm.sh/hook"]
    assert hook_weight < int(annotations["helm.sh/hook-weight"]), "the account exists before the Job"
    assert env_of(job)["CRM_MODE"] == "production"


def test_tagging_runs_a_celery_worker_and_one_beat(chart: helm.Chart) -> None:
    manifests = render(chart)
    deployments = of_kind(manifests, "Deployment")
    worker, beat = deployments["tagging-worker"], deployments["tagging-beat"]
    for workload, args in ((worker, ["worker"]), (beat, ["beat"])):
        box = container(workload)
        assert box["command"] == ["python", "-m", "services.tagging"] and box["args"] == args
        assert "ports" not in box and "readinessProbe" not in box
        assert env_of(workload)["CRM_BROKER_URL"] == {
            "secretKeyRef": {"name": "crm-tagging-broker", "key": "url"}
        }
        assert env_of(workload)["CRM_TAGGING_DATABASE_URL"]["secretKeyRef"]["name"] == "crm-tagging-database"
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"] == {"type": "Recreate"}
    assert worker["spec"]["selector"] != deployments["tagging"]["spec"]["selector"]
    assert "tagging-worker" not in of_kind(manifests, "Service")
    for consumer in ("gateway", "search"):
        tagging_port = {p["name"]: p["containerPort"] for p in container(deployments["tagging"])["ports"]}[
            "grpc"
        ]
        assert env_of(deployments[consumer])["TAGGING_ADDR"].endswith(
            f"tagging.{NAMESPACE}.svc.cluster.local:{tagging_port}"
        )
    job = of_kind(manifests, "Job")["tagging-migrate"]
    assert container(job)["args"] == ["migrate"]


def test_tiers_are_recomputed_daily(chart: helm.Chart) -> None:
    cron = of_kind(render(chart), "CronJob")["profile-recompute-tiers"]
    minute, hour, day, month, weekday = cron["spec"]["schedule"].split()
    assert minute.isdigit() and hour.isdigit() and (day, month, weekday) == ("*", "*", "*")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    box = container(cron)
    assert box["command"] == ["python", "-m", "services.profile"] and box["args"] == ["recompute-tiers"]
    assert pod_spec(cron)["restartPolicy"] == "Never"


# Each case: values, and a fragment of the error that must name the cause.
BAD_VALUES: dict[str, tuple[dict[str, Any], str]] = {
    "zero replicas": ({"components": {"profile": {"replicas": 0}}}, "/components/profile/replicas"),
    "unknown component field": ({"components": {"gateway": {"replica": 2}}}, "'replica' not allowed"),
    "plaintext databaseUrl": (
        {"components": {"profile": {"databaseUrl": "postgresql+psycopg://crm:pw@db/crm"}}},
        "'databaseUrl' not allowed",
    ),
    "top-level databaseUrl": (
        {"databaseUrl": "postgresql+psycopg://crm:pw@db/crm"},
        "'databaseUrl' not allowed",
    ),
    "database URL in env": (
        {"components": {"profile": {"env": {"CRM_PROFILE_DATABASE_URL": "postgresql://db/crm"}}}},
        "invalid propertyName 'CRM_PROFILE_DATABASE_URL'",
    ),
    "credentials in an env URL": (
        {"default": {"env": {"BROKER": "redis://user:pw@redis:6379/0"}}},
        "/default/env/BROKER",
    ),
    "password in env": (
        {"components": {"gateway": {"env": {"CRM_REDIS_PASSWORD": "hunter2"}}}},
        "invalid propertyName 'CRM_REDIS_PASSWORD'",
    ),
    "profile without its secret": (
        {"components": {"profile": {"secretEnv": None}}},
        "missing property 'secretEnv'",
    ),
    "OTEL_SERVICE_NAME alias": (
        {"components": {"gateway": {"env": {"OTEL_SERVICE_NAME": "api"}}}},
        "invalid propertyName 'OTEL_SERVICE_NAME'",
    ),
    "unknown probe type": ({"components": {"profile": {"probes": {"type": "tcp"}}}}, "/probes/type"),
    "http probe without paths": (
        {"components": {"gateway": {"probes": {"readinessPath": None}}}},
        "missing property 'readinessPath'",
    ),
    "bad component name": (
        {"components": {"Search_Svc": {"enabled": True}}},
        "invalid propertyName 'Search_Svc'",
    ),
    "writable root filesystem": (
        {"default": {"securityContext": {"readOnlyRootFilesystem": False}}},
        "readOnlyRootFilesystem",
    ),
    "root allowed": ({"default": {"podSecurityContext": {"runAsNonRoot": False}}}, "runAsNonRoot"),
    "hpa max below min": (
        {"components": {"gateway": {"hpa": {"minReplicas": 4, "maxReplicas": 2}}}},
        "maxReplicas is below minReplicas",
    ),
    "pdb blocks drains": (
        {"components": {"gateway": {"hpa": {"enabled": False}, "replicas": 1}}},
        "node drains would block",
    ),
    "two beats": (
        {"components": {"tagging": {"workers": {"beat": {"replicas": 2}}}}},
        "/components/tagging/workers/beat/replicas",
    ),
    "probe on an unknown port": (
        {"components": {"profile": {"probes": {"port": "grpcs"}}}},
        'port "grpcs" is not in its ports',
    ),
    "plaintext opt-out in env": (
        {"default": {"env": {"CRM_GRPC_PLAINTEXT": "true"}}},
        "invalid propertyName 'CRM_GRPC_PLAINTEXT'",
    ),
    "certificate path in env": (
        {"components": {"search": {"env": {"CRM_GRPC_TLS_CA": "/ca.crt"}}}},
        "invalid propertyName 'CRM_GRPC_TLS_CA'",
    ),
    "no certificates and no secrets": (
        {"tls": {"certManager": {"enabled": False}}},
        "tls.existingSecret: needed when tls.certManager.enabled is false",
    ),
    "unknown issuer kind": (
        {"tls": {"certManager": {"issuerRef": {"kind": "Vault"}}}},
        "/tls/certManager/issuerRef/kind",
    ),
    "weak RSA key": (
        {"tls": {"certManager": {"privateKey": {"algorithm": "RSA", "size": 1024}}}},
        "/tls/certManager/privateKey/size",
    ),
    "duration in days": ({"tls": {"certManager": {"duration": "90d"}}}, "/tls/certManager/duration"),
    "unknown tls field": ({"tls": {"insecure": True}}, "'insecure' not allowed"),
    "calls an unknown component": (
        {"components": {"search": {"networkPolicy": {"calls": ["profile", "reporting"]}}}},
        'networkPolicy.calls: "reporting" is not a component',
    ),
    "an empty peer admits everyone": (
        {"components": {"gateway": {"networkPolicy": {"public": False, "ingressFrom": [{}]}}}},
        "/components/gateway/networkPolicy/ingressFrom/0",
    ),
    "prometheus without selectors": (
        {"networkPolicy": {"prometheus": {"podSelector": None}}},
        "missing property 'podSelector'",
    ),
}


@pytest.mark.parametrize("case", BAD_VALUES)
def test_bad_values_fail_to_render(chart: helm.Chart, case: str) -> None:
    values, cause = BAD_VALUES[case]
    with pytest.raises((helm.HelmValuesError, helm.HelmRenderError), match=re.escape(cause)):
        chart.render(values, name="crm", namespace=NAMESPACE)


def test_profile_keys_come_from_vault_and_a_separate_key_store(chart: helm.Chart) -> None:
    manifests = render(chart)
    for workload in (
        of_kind(manifests, "Deployment")["profile"],
        of_kind(manifests, "Job")["profile-migrate"],
        of_kind(manifests, "CronJob")["profile-rewrap-keys"],
        of_kind(manifests, "CronJob")["profile-apply-retention"],
    ):
        env = env_of(workload)
        assert env["CRM_KEY_PROVIDER"] == "vault" and env["CRM_VAULT_AUTH"] == "approle"
        for name in ("CRM_PROFILE_KEYSTORE_URL", "CRM_VAULT_ROLE_ID", "CRM_VAULT_SECRET_ID"):
            assert not isinstance(env[name], str), f"{name} must come from a Secret"
    assert container(of_kind(manifests, "CronJob")["profile-rewrap-keys"])["args"] == ["rewrap-keys"]


def _transport_env(workload: Manifest) -> dict[str, Any]:
    return {k: v for k, v in env_of(workload).items() if k.startswith("CRM_GRPC_")}


def test_every_component_has_a_certificate_for_the_names_it_is_called_by(chart: helm.Chart) -> None:
    values = chart.merge_values({})
    manifests = render(chart)
    certificates = of_kind(manifests, "Certificate")
    assert set(certificates) == set(enabled_components(values))
    dialled = {
        value.removeprefix("dns:///").rsplit(":", 1)[0]
        for deployment in of_kind(manifests, "Deployment").values()
        for key, value in env_of(deployment).items()
        if key.endswith("_ADDR") and str(value).startswith("dns:///")
    }
    names = {n for c in certificates.values() for n in c["spec"]["dnsNames"]}
    assert dialled and dialled <= names, "every address a client dials is in its server's certificate"
    issuer = values["tls"]["certManager"]["issuerRef"]
    for name, certificate in certificates.items():
        spec = certificate["spec"]
        assert certificate["apiVersion"] == "cert-manager.io/v1"
        assert spec["commonName"] == name and name in spec["dnsNames"], "the bare name is the identity"
        assert f"{name}.{NAMESPACE}.svc.cluster.local" in spec["dnsNames"]
        assert {"server auth", "client auth"} <= set(spec["usages"])
        assert spec["issuerRef"] == issuer
        assert spec["secretName"] == f"{name}-tls"
        assert spec["privateKey"]["rotationPolicy"] == "Always"
        # The fields cert-manager's Certificate (v1) knows; a typo would be dropped silently.
        assert set(spec) <= {
            "secretName", "commonName", "dnsNames", "duration", "renewBefore", "privateKey", "usages",
            "issuerRef", "uris", "ipAddresses", "subject", "secretTemplate", "isCA",
        }  # fmt: skip
        assert set(spec["privateKey"]) <= {"algorithm", "size", "encoding", "rotationPolicy"}


def test_every_workload_but_the_migration_hooks_mounts_its_certificate(chart: helm.Chart) -> None:
    mount = chart.merge_values({})["tls"]["mountPath"]
    for workload in render(chart):
        if workload["kind"] not in ("Deployment", "Job", "CronJob"):
            continue
        pod, box, where = pod_spec(workload), container(workload), workload["metadata"]["name"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        if workload["kind"] == "Job":
            # A pre-install hook runs before cert-manager writes the first certificate; it calls
            # no service, so it needs none (and production settings only ask for one to serve or call).
            assert "tls" not in volumes and not _transport_env(workload), where
            continue
        assert volumes["tls"]["secret"]["secretName"] == f"{package_of(workload)}-tls", where
        assert {"name": "tls", "mountPath": mount, "readOnly": True} in box["volumeMounts"], where
        assert "subPath" not in str(box["volumeMounts"]), "renewed files reach only whole-folder mounts"
        env = _transport_env(workload)
        assert env["CRM_GRPC_TLS_CERT"] == f"{mount}/tls.crt", where
        assert env["CRM_GRPC_TLS_KEY"] == f"{mount}/tls.key", where
        assert env["CRM_GRPC_TLS_CA"] == f"{mount}/ca.crt", where
        assert "CRM_GRPC_PLAINTEXT" not in env, where


def test_existing_secrets_replace_cert_manager(chart: helm.Chart) -> None:
    manifests = render(chart, OVERRIDES["existing-tls-secrets-private-gateway"])
    assert not of_kind(manifests, "Certificate")
    for name, deployment in of_kind(manifests, "Deployment").items():
        volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
        assert volumes["tls"]["secret"]["secretName"] == f"crm-{package_of(deployment)}-mtls", name
    # One component's own Secret, the others' from cert-manager.
    mixed = render(chart, {"components": {"search": {"tls": {"existingSecret": "search-from-vault"}}}})
    assert set(of_kind(mixed, "Certificate")) == {"auth", "profile", "tagging", "analytics", "gateway"}
    search = {v["name"]: v for v in pod_spec(of_kind(mixed, "Deployment")["search"])["volumes"]}
    assert search["tls"]["secret"]["secretName"] == "search-from-vault"


def test_plaintext_behind_a_mesh_is_the_loud_opt_out(
    chart: helm.Chart, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifests = render(chart, OVERRIDES["plaintext-behind-a-mesh"])
    assert not of_kind(manifests, "Certificate") and not of_kind(manifests, "NetworkPolicy")
    profile = of_kind(manifests, "Deployment")["profile"]
    assert "tls" not in {v["name"] for v in pod_spec(profile)["volumes"]}
    assert _transport_env(profile) == {"CRM_GRPC_PLAINTEXT": "true", "CRM_GRPC_HEALTH_PORT": "8086"}
    for key, value in env_of(profile).items():
        monkeypatch.setenv(key, value if isinstance(value, str) else "postgresql+psycopg://u@db/crm")
    settings = settings_class("profile")()
    assert settings.grpc_tls() is None and settings.reflection_enabled() is False


def _pods(manifests: list[Manifest]) -> list[tuple[str, dict[str, str]]]:
    """Every pod template of the release: (workload, labels)."""
    pods = []
    for workload in manifests:
        if workload["kind"] in ("Deployment", "Job"):
            pods.append((workload["metadata"]["name"], workload["spec"]["template"]["metadata"]["labels"]))
        elif workload["kind"] == "CronJob":
            template = workload["spec"]["jobTemplate"]["spec"]["template"]
            pods.append((workload["metadata"]["name"], template["metadata"]["labels"]))
    return pods


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, selector
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


# Who may reach each component's service ports: the components that call it.
CALLERS = {
    "auth": {"gateway", "profile", "search", "tagging", "analytics"},
    "profile": {"gateway", "search", "tagging", "analytics"},
    "search": {"gateway"},
    "tagging": {"gateway", "search"},
    "analytics": {"gateway"},
}


def test_network_policies_deny_by_default_and_admit_only_callers(chart: helm.Chart) -> None:
    values = chart.merge_values({})
    manifests = render(chart)
    policies = of_kind(manifests, "NetworkPolicy")
    assert set(policies) == {"default-deny-ingress", *enabled_components(values)}
    deny = policies.pop("default-deny-ingress")["spec"]
    assert deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    pods = _pods(manifests)
    assert all(_selects(deny["podSelector"], labels) for _, labels in pods), "every pod is isolated"
    prometheus = values["networkPolicy"]["prometheus"]
    deployments = of_kind(manifests, "Deployment")
    for name, policy in policies.items():
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Ingress"]
        selected = {w for w, labels in pods if _selects(spec["podSelector"], labels)}
        assert selected == {name}, f"{name}'s policy selects only its serving pods"
        ports = {p["name"] for p in container(deployments[name])["ports"]}
        rules = spec["ingress"]
        for rule in rules:
            assert {p["port"] for p in rule["ports"]} <= ports - {"health"}, name
        metrics_port = values["components"][name]["metrics"]["port"]
        scrape = [r for r in rules if r.get("from") and "namespaceSelector" in r["from"][0]]
        assert scrape == [
            {
                "from": [
                    {
                        "namespaceSelector": prometheus["namespaceSelector"],
                        "podSelector": prometheus["podSelector"],
                    }
                ],
                "ports": [{"port": metrics_port, "protocol": "TCP"}],
            }
        ], name
        serving = [r for r in rules if r not in scrape]
        assert len(serving) == 1, name
        if name == "gateway":
            assert "from" not in serving[0], "the public door admits everyone"
            assert serving[0]["ports"] == [{"port": "http", "protocol": "TCP"}]
            continue
        assert serving[0]["ports"] == [{"port": "grpc", "protocol": "TCP"}], name
        peers = serving[0]["from"]
        assert peers, "an empty from would admit everyone"
        admitted = {w for w, labels in pods if any(_selects(p["podSelector"], labels) for p in peers)}
        expected = {w for w, labels in pods if labels["app.kubernetes.io/name"] in CALLERS[name]}
        assert admitted == expected, name
    # Workers and jobs reach what their component calls: the worker's audit events go to auth.
    auth_peers = policies["auth"]["spec"]["ingress"][0]["from"]
    for workload, labels in pods:
        if workload in ("tagging-worker", "tagging-beat", "profile-apply-retention"):
            assert any(_selects(p["podSelector"], labels) for p in auth_peers), workload


def test_a_private_gateway_admits_only_its_ingress(chart: helm.Chart) -> None:
    case = OVERRIDES["existing-tls-secrets-private-gateway"]
    policy = of_kind(render(chart, case), "NetworkPolicy")["gateway"]["spec"]
    serving = policy["ingress"][0]
    assert serving["from"] == case["components"]["gateway"]["networkPolicy"]["ingressFrom"]
    assert serving["ports"] == [{"port": "http", "protocol": "TCP"}]


def test_prometheus_is_found_where_the_values_say(chart: helm.Chart) -> None:
    # Helm merges maps: a default label is dropped by setting it to null.
    where = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": None, "team": "sre"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": None, "app": "vmagent"}},
    }
    policy = of_kind(render(chart, {"networkPolicy": {"prometheus": where}}), "NetworkPolicy")["profile"]
    assert policy["spec"]["ingress"][-1]["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"team": "sre"}},
            "podSelector": {"matchLabels": {"app": "vmagent"}},
        }
    ]


def test_a_component_nobody_calls_admits_only_prometheus(chart: helm.Chart) -> None:
    values = {
        "components": {
            "gateway": {"enabled": False},
            "search": {"networkPolicy": {"calls": ["profile", "auth"]}},
        }
    }
    policy = of_kind(render(chart, values), "NetworkPolicy")["tagging"]["spec"]
    assert [r["ports"] for r in policy["ingress"]] == [[{"port": "metrics", "protocol": "TCP"}]]
