"""The chart's alerts and dashboard, checked offline: every PromQL expression parses and
names only series the gateway and the worker expose (or the chart's recording rules), and
a histogram bucket it names is one of that histogram's buckets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import promql_parser
import pytest
from prometheus_client import REGISTRY
from prometheus_client.utils import floatToGoString

import app.main  # noqa: F401  (every module that defines a metric)
import process_apis.worker  # noqa: F401
from tests.packaging.support import CHART, load_values, render

ALERTS = {
    "LedgergatePostingLatencySLOBurn",
    "LedgergatePostingLatencySLOBurnSlow",
    "LedgergateExceptionsAgeing",
    "LedgergateReconciliationDifferences",
    "LedgergateErpBudgetSaturated",
    "LedgergateWebhookEndpointDisabled",
}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exposed() -> dict[str, Any]:
    """Every series name the processes expose, with its metric family."""
    names: dict[str, Any] = {}
    for family in REGISTRY.collect():
        for suffix in SUFFIXES.get(family.type, ("",)):
            names[family.name + suffix] = family
    return names


def selectors(expr: Any) -> Iterator[Any]:
    """Every vector selector in a parsed expression."""
    if isinstance(expr, promql_parser.VectorSelector):
        yield expr
    for child in ("lhs", "rhs", "expr", "vector_selector", "param"):
        if (node := getattr(expr, child, None)) is not None:
            yield from selectors(node)
    for argument in getattr(expr, "args", None) or []:
        yield from selectors(argument)


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    return render(load_values("production"))


@pytest.fixture(scope="module")
def rules(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    [rule] = [m for m in manifests if m["kind"] == "PrometheusRule"]
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def check(expr: str, recorded: set[str]) -> None:
    parsed = promql_parser.parse(expr)  # raises on a syntax error
    names = exposed()
    for selector in selectors(parsed):
        name = selector.name
        assert name in names or name in recorded, f"{name} is not exposed: {expr}"
        family = names.get(name)
        buckets = (
            {m.value for m in selector.matchers.matchers if m.name == "le"}
            if selector.matchers
            else set()
        )
        if family is not None and buckets:
            allowed = {floatToGoString(b) for b in _buckets(family)}
            assert buckets <= allowed, f"{name} has no bucket {buckets - allowed}: {expr}"


def _buckets(family: Any) -> list[float]:
    collector = REGISTRY._names_to_collectors[family.name + "_bucket"]  # noqa: SLF001
    return list(collector._upper_bounds)  # noqa: SLF001


def test_the_alerts_are_the_ones_promised(rules: list[dict[str, Any]]) -> None:
    assert {r["alert"] for r in rules if "alert" in r} == ALERTS
    for rule in rules:
        if "alert" in rule:
            assert rule["labels"]["severity"] in {"page", "ticket"}
            assert rule["annotations"]["summary"]


def test_every_rule_parses_and_names_exposed_series(rules: list[dict[str, Any]]) -> None:
    recorded = {r["record"] for r in rules if "record" in r}
    for rule in rules:
        check(rule["expr"], recorded)


def test_every_dashboard_query_parses_and_names_exposed_series(
    rules: list[dict[str, Any]],
) -> None:
    dashboard = json.loads((CHART / "files" / "grafana-dashboard.json").read_text())
    recorded = {r["record"] for r in rules if "record" in r}
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(queries) >= 10
    for query in queries:
        check(query, recorded)


def test_a_name_that_is_not_exposed_is_caught() -> None:
    with pytest.raises(AssertionError, match="not exposed"):
        check("max(ledgergate_no_such_metric) > 0", set())
    with pytest.raises(AssertionError, match="no bucket"):
        check('rate(ledgergate_workflow_duration_seconds_bucket{le="7.0"}[5m])', set())
    with pytest.raises(Exception):  # noqa: B017, PT011  (the parser's own error type)
        promql_parser.parse("max(ledgergate_exception_queue_depth")
