"""The helm chart, rendered by Helm's own Go engine (helm-python-sdk bundles the Helm SDK).

Each values file (the defaults and `values-production.yaml`) is linted strictly, and every
manifest it renders is validated offline against the Kubernetes OpenAPI schemas
(kubernetes-validate, strict: an unknown field fails) for the oldest Kubernetes the chart
supports and the newest the schemas know. The ServiceMonitor, a prometheus-operator CRD,
is checked against that CRD's generated model instead. Then the facts a platform engineer
relies on: probe paths, non-root read-only pods, the migration hook, the worker command,
selectors, and that the environment handed to the app is a valid production configuration.
"""

from __future__ import annotations

import os
import re
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.prometheus_operator.v1 import PodMonitor, PrometheusRule, ServiceMonitor
from pydantic import BaseModel

from core.settings import Settings
from tests.packaging.support import CHART, NAMESPACE, dockerfile_stages, load_values, render

VALUES = ["default", "production"]
OPERATOR_KINDS: dict[str, type[BaseModel]] = {
    "ServiceMonitor": ServiceMonitor,
    "PodMonitor": PodMonitor,
    "PrometheusRule": PrometheusRule,
}
HOOK = "helm.sh/hook"


def oldest_supported_kubernetes() -> str:
    constraint = yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"]
    match = re.fullmatch(r">=\s*(\d+\.\d+)\.\d+(-0)?", constraint)
    assert match, f"unexpected kubeVersion constraint {constraint!r}"
    return match.group(1)


KUBERNETES_VERSIONS = [oldest_supported_kubernetes(), kubernetes_validate.latest_version()]


@pytest.fixture(scope="module", params=VALUES)
def values_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def manifests(values_name: str) -> list[dict[str, Any]]:
    return render(load_values(values_name))


def only(manifests: list[dict[str, Any]], kind: str, suffix: str = "") -> dict[str, Any]:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"].endswith(suffix)]
    assert len(found) == 1, f"expected one {kind} named *{suffix}, got {len(found)}"
    return found[0]


def pod_templates(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["spec"]["template"] for m in manifests if m["kind"] in ("Deployment", "Job")]


def container(manifests: list[dict[str, Any]], kind: str, suffix: str) -> dict[str, Any]:
    containers: list[dict[str, Any]] = only(manifests, kind, suffix)["spec"]["template"]["spec"][
        "containers"
    ]
    assert len(containers) == 1
    return containers[0]


def secret_refs(env: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """Variable name → (Secret name, key) for every variable read from a Secret."""
    return {
        var["name"]: (
            var["valueFrom"]["secretKeyRef"]["name"],
            var["valueFrom"]["secretKeyRef"]["key"],
        )
        for var in env
        if "valueFrom" in var
    }


def test_chart_lints_clean_in_strict_mode(values_name: str) -> None:
    report = helm.lint(CHART, load_values(values_name), strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("kubernetes_version", KUBERNETES_VERSIONS)
def test_every_manifest_matches_its_schema(
    manifests: list[dict[str, Any]], kubernetes_version: str
) -> None:
    for manifest in manifests:
        if (model := OPERATOR_KINDS.get(manifest["kind"])) is not None:
            # Not a core kind: prometheus-operator's CRD model. Fields it does not know are
            # dropped on parsing, so a round trip that loses anything is an unknown field.
            parsed = model.model_validate(manifest)
            assert parsed.model_dump(by_alias=True, exclude_unset=True, mode="json") == manifest
            continue
        try:
            kubernetes_validate.validate(manifest, kubernetes_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(part) for part in error.path)
            pytest.fail(
                f"{manifest['kind']}/{manifest['metadata']['name']} {where}: {error.message}"
            )


def test_release_contents(manifests: list[dict[str, Any]], values_name: str) -> None:
    kinds = sorted(f"{m['kind']}/{m['metadata']['name']}" for m in manifests)
    expected = [
        "ConfigMap/ledgergate",
        "Deployment/ledgergate-gateway",
        "Deployment/ledgergate-replay-worker",
        "HorizontalPodAutoscaler/ledgergate-gateway",
        "Job/ledgergate-migrate",
        "PodDisruptionBudget/ledgergate-gateway",
        "Service/ledgergate",
    ]
    if values_name == "default":
        expected.append("Secret/ledgergate")  # chart-managed: no existingSecret named
    else:  # toggled on by the production values
        expected += [
            "ServiceMonitor/ledgergate",
            "PodMonitor/ledgergate-replay-worker",
            "PrometheusRule/ledgergate",
            "ConfigMap/ledgergate-dashboard",
        ]
    assert kinds == sorted(expected)


def test_gateway_probes_and_port(manifests: list[dict[str, Any]]) -> None:
    gateway = container(manifests, "Deployment", "-gateway")
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert gateway["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    config = only(manifests, "ConfigMap", "ledgergate")["data"]
    assert gateway["ports"] == [
        {"name": "http", "containerPort": int(config["LEDGERGATE_PORT"]), "protocol": "TCP"}
    ]
    assert gateway["args"][:2] == ["serve", "--workers"]
    assert int(gateway["args"][2]) > 1


def test_pods_run_as_non_root_on_a_read_only_root(manifests: list[dict[str, Any]]) -> None:
    multiproc_dir = only(manifests, "ConfigMap", "ledgergate")["data"]["PROMETHEUS_MULTIPROC_DIR"]
    templates = pod_templates(manifests)
    assert len(templates) == 3
    for template in templates:
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        # Service links would add LEDGERGATE_PORT=tcp://... (the Service "ledgergate") to the env.
        assert pod["enableServiceLinks"] is False
        emptydirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        assert emptydirs == {v["name"] for v in pod["volumes"]}
        for each in pod["containers"]:
            security = each["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            mounts = {m["mountPath"]: m["name"] for m in each["volumeMounts"]}
            assert mounts[multiproc_dir] in emptydirs
            assert mounts["/tmp"] in emptydirs
            assert set(mounts.values()) <= emptydirs
            assert "resources" in each
            assert {"requests", "limits"} <= set(each["resources"])


def test_pods_match_the_image(manifests: list[dict[str, Any]]) -> None:
    runtime = dockerfile_stages()[-1]
    user = int(runtime.last("USER").split(":")[0])
    config = only(manifests, "ConfigMap", "ledgergate")["data"]
    assert config["PROMETHEUS_MULTIPROC_DIR"] == runtime.env()["PROMETHEUS_MULTIPROC_DIR"]
    assert config["LEDGERGATE_PORT"] == runtime.last("EXPOSE")
    for template in pod_templates(manifests):
        assert template["spec"]["securityContext"]["runAsUser"] == user


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook(
    manifests: list[dict[str, Any]],
) -> None:
    job = only(manifests, "Job", "-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations[HOOK] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    migrate = job["spec"]["template"]["spec"]["containers"][0]
    assert migrate["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # The Job runs before the ConfigMap exists, so it carries the same settings inline.
    inline = {var["name"]: var["value"] for var in migrate["env"] if "value" in var}
    assert inline == only(manifests, "ConfigMap", "ledgergate")["data"]
    assert inline["LEDGERGATE_MIGRATE_ON_START"] == "false"
    gateway = container(manifests, "Deployment", "-gateway")
    assert secret_refs(migrate["env"]) == secret_refs(gateway["env"])
    # Whatever the Job reads must exist before it: a chart-managed Secret is an earlier hook.
    for secret in (m for m in manifests if m["kind"] == "Secret"):
        secret_annotations = secret["metadata"]["annotations"]
        assert secret_annotations[HOOK] == annotations[HOOK]
        assert int(secret_annotations["helm.sh/hook-weight"]) < int(
            annotations["helm.sh/hook-weight"]
        )


def test_replay_worker_runs_ledgergate_worker(manifests: list[dict[str, Any]]) -> None:
    worker = container(manifests, "Deployment", "-replay-worker")
    gateway = container(manifests, "Deployment", "-gateway")
    assert worker["args"] == ["worker"]
    assert worker["image"] == gateway["image"]
    assert worker["envFrom"] == gateway["envFrom"]
    assert secret_refs(worker["env"]) == secret_refs(gateway["env"])
    config = only(manifests, "ConfigMap", "ledgergate")["data"]
    assert worker["ports"] == [
        {
            "name": "metrics",
            "containerPort": int(config["LEDGERGATE_WORKER_METRICS_PORT"]),
            "protocol": "TCP",
        }
    ]
    for monitor in (m for m in manifests if m["kind"] == "PodMonitor"):
        labels = only(manifests, "Deployment", "-replay-worker")["spec"]["template"]["metadata"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= labels["labels"].items()
        assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"


def test_service_pdb_hpa_and_monitor_select_only_the_gateway(
    manifests: list[dict[str, Any]],
) -> None:
    gateway = only(manifests, "Deployment", "-gateway")
    gateway_labels = gateway["spec"]["template"]["metadata"]["labels"]
    worker_labels = only(manifests, "Deployment", "-replay-worker")["spec"]["template"]["metadata"][
        "labels"
    ]

    def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
        return selector.items() <= labels.items()

    service = only(manifests, "Service")
    assert selects(service["spec"]["selector"], gateway_labels)
    assert not selects(service["spec"]["selector"], worker_labels)
    pdb = only(manifests, "PodDisruptionBudget")
    assert pdb["spec"]["selector"] == gateway["spec"]["selector"]
    hpa = only(manifests, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": gateway["metadata"]["name"],
    }
    assert hpa["spec"]["minReplicas"] >= 2
    assert "replicas" not in gateway["spec"]  # the HPA owns it
    for monitor in (m for m in manifests if m["kind"] == "ServiceMonitor"):
        assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
        assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_credentials_come_from_the_secret(
    manifests: list[dict[str, Any]], values_name: str
) -> None:
    refs = secret_refs(container(manifests, "Deployment", "-gateway")["env"])
    assert set(refs) == {
        "LEDGERGATE_DATABASE_URL",
        "LEDGERGATE_RATE_LIMIT_STORAGE_URL",
        "LEDGERGATE_ERP__ACCESS_TOKEN",
        "LEDGERGATE_BILLING__API_KEY",
        "LEDGERGATE_BILLING__WEBHOOK_SECRET",
        "LEDGERGATE_CRM__ACCESS_TOKEN",
        "LEDGERGATE_CRM__WEBHOOK_SECRET",
        "LEDGERGATE_SUPPORT__API_TOKEN",
        "LEDGERGATE_AUTH__KEY_ENCRYPTION_KEY",
    }
    names = {name for name, _ in refs.values()}
    if values_name == "production":
        assert names == {load_values("production")["existingSecret"]}  # type: ignore[index]
    else:
        secret = only(manifests, "Secret")
        assert names == {secret["metadata"]["name"]}
        assert {key for _, key in refs.values()} == set(secret["stringData"])
    config = only(manifests, "ConfigMap", "ledgergate")["data"]
    assert not set(refs) & set(config), "a credential would be in the ConfigMap"


def settings_field(name: str) -> bool:
    """Whether `LEDGERGATE_A__B` names a field of Settings (nested models joined by `__`)."""
    model: type[BaseModel] = Settings
    *parents, leaf = name.removeprefix("LEDGERGATE_").lower().split("__")
    for part in parents:
        field = model.model_fields.get(part)
        if field is None or not (
            isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        ):
            return False
        model = field.annotation
    return leaf in model.model_fields


def test_production_environment_is_a_valid_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifests = render(load_values("production"))
    gateway = container(manifests, "Deployment", "-gateway")
    environment = dict(only(manifests, "ConfigMap", "ledgergate")["data"])
    secrets = {
        "LEDGERGATE_DATABASE_URL": "postgresql+asyncpg://ledgergate:pw@postgres:5432/ledgergate",
        "LEDGERGATE_RATE_LIMIT_STORAGE_URL": "redis://:pw@redis:6379/0",
        "LEDGERGATE_ERP__ACCESS_TOKEN": "erp-token",
        "LEDGERGATE_BILLING__API_KEY": "sk_live_key",
        "LEDGERGATE_BILLING__WEBHOOK_SECRET": "whsec_live",
        "LEDGERGATE_CRM__ACCESS_TOKEN": "crm-token",
        "LEDGERGATE_CRM__WEBHOOK_SECRET": "whsec_crm_live",
        "LEDGERGATE_SUPPORT__API_TOKEN": "desk-token",
        "LEDGERGATE_AUTH__KEY_ENCRYPTION_KEY": "x0sQ5c1yYH3G0aX3mJ3v5m6oVh8f0b2kq9Jc2mXy1Zk=",
    }
    assert set(secret_refs(gateway["env"])) == set(secrets)
    environment.update(secrets)
    unknown = [n for n in environment if n.startswith("LEDGERGATE_") and not settings_field(n)]
    assert unknown == [], "settings the app would silently ignore"
    for name in list(os.environ):
        if name.startswith("LEDGERGATE_"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.environment == "production"
    assert settings.migrate_on_start is False
    assert settings.host == "0.0.0.0"
    assert settings.database_url == secrets["LEDGERGATE_DATABASE_URL"]
    assert settings.rate_limit_storage_url == secrets["LEDGERGATE_RATE_LIMIT_STORAGE_URL"]
    assert settings.erp.url == environment["LEDGERGATE_ERP__URL"]
    assert settings.billing.api_key.get_secret_value() == "sk_live_key"
    assert settings.billing.budgeted  # Stripe's live limits, waited for 10 s at most
    assert settings.billing.budget_wait_seconds == 10
    assert settings.billing.interactive_reserve == 0.2
    assert settings.billing.limits(write=True).requests_per_window == 100
    assert settings.rate_limits.trusted_proxies == ["10.0.0.0/8"]
    assert not settings.should_seed_demo_data
    assert not settings.serves_docs
