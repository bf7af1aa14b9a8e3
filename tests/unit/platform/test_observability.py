"""deploy/observability/ cannot rot: every series, label and value its alerts and dashboard use exists.

The names come from the services' own registry (shared/metrics.py), the job names from the
services' definitions, the event types from the contracts; Prometheus and Grafana are wired the
way docker-compose.yml mounts them.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
import yaml

from shared.contracts.events import EVENT_TYPES
from shared.contracts.topics import SERVICES
from shared.metrics import OUTCOMES, ServiceMetrics, exposed_names

REPO = Path(__file__).resolve().parents[3]
OBSERVABILITY = REPO / "deploy" / "observability"
ALERTS = yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text(encoding="utf-8"))
DASHBOARD = json.loads((OBSERVABILITY / "grafana" / "dashboard.json").read_text(encoding="utf-8"))
PROMETHEUS = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text(encoding="utf-8"))
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
#: labels Prometheus adds to every scraped series
TARGET_LABELS = {"job", "instance"}
SELECTOR = re.compile(r"\b(certibus_\w+)\s*\{([^}]*)\}")
MATCHER = re.compile(r'(\w+)\s*(=~|!=|!~|=)\s*"([^"]*)"')


def alert_expressions() -> list[tuple[str, str]]:
    return [(rule["alert"], rule["expr"]) for group in ALERTS["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in DASHBOARD["panels"] for target in panel["targets"]]


EXPRESSIONS = alert_expressions() + dashboard_expressions()


def series_labels() -> dict[str, set[str]]:
    """Each exposed series name → the labels it carries (``le`` on histogram buckets)."""
    metrics = ServiceMetrics("any")
    labels: dict[str, set[str]] = {}
    for metric in vars(metrics).values():
        name, names = getattr(metric, "_name", None), getattr(metric, "_labelnames", None)
        if name is None or names is None:
            continue
        for exposed in exposed_names(metrics.registry):
            if exposed == name or exposed.startswith(name + "_"):
                labels[exposed] = set(names) | ({"le"} if exposed.endswith("_bucket") else set())
    return labels


def job_names() -> set[str]:
    """What ``certibus_job_last_success_timestamp_seconds{job}`` can be: the services' jobs' ticks."""
    names = {"outbox_pruning"}
    for service in SERVICES:
        definition = importlib.import_module(f"services.{service}.app").definition
        names |= {job.__name__.removesuffix("_job") for job in definition.jobs}
    return names


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS, ids=[w for w, _ in EXPRESSIONS])
def test_every_series_label_and_value_used_exists(where: str, expr: str):
    known = series_labels()
    used = set(re.findall(r"\bcertibus_\w+", expr))
    assert used or f'up{{job="{PROMETHEUS["scrape_configs"][0]["job_name"]}"' in expr, (
        f"{where}: no certibus series"
    )
    assert used <= set(known), f"{where}: unknown series {sorted(used - set(known))}"
    for name, matchers in SELECTOR.findall(expr):
        for label, op, value in MATCHER.findall(matchers):
            assert label in known[name] | TARGET_LABELS, f"{where}: {name} has no label {label!r}"
            if op != "=":
                continue
            allowed = {
                "outcome": set(OUTCOMES),
                "event_type": set(EVENT_TYPES),
                "service": set(SERVICES),
                "job": job_names(),
            }.get(label)
            assert allowed is None or value in allowed, f"{where}: {label}={value!r} never occurs"
    for grouping in re.findall(r"\bby\s*\(([^)]*)\)", expr):
        names = [n.strip() for n in grouping.split(",") if n.strip()]
        carried = set().union(*(known[n] for n in used)) | TARGET_LABELS | {"service"}  # up's own
        assert set(names) <= carried, f"{where}: groups by {sorted(set(names) - carried)}, not on its series"


def test_the_rules_would_catch_a_renamed_series():
    known = series_labels()
    assert "certibus_events_handled_total" in known and "certibus_events_handled" not in known
    assert known["certibus_handler_duration_seconds_bucket"] >= {"service", "consumer", "event_type", "le"}


def test_the_alerts_the_operators_need_are_there():
    rules = {rule["alert"]: rule for group in ALERTS["groups"] for rule in group["rules"]}
    needed = {
        "CertibusServiceDown": "up{",
        "CertibusConsumerLagGrowing": "certibus_consumer_lag",
        "CertibusOutboxOldestUnpublished": "certibus_outbox_oldest_unpublished_age_seconds",
        "CertibusDeadLetters": 'outcome="dead_lettered"',
        "CertibusFinalisationOverdue": "session_finalisation_overdue",
    }
    for alert, series in needed.items():
        assert series in rules[alert]["expr"], alert
    for alert, rule in rules.items():
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], alert
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, alert


def test_prometheus_scrapes_the_five_services_where_compose_runs_them():
    [job] = PROMETHEUS["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["honor_labels"] is True
    targets = {c["labels"]["service"]: c["targets"] for c in job["static_configs"]}
    assert set(targets) == set(SERVICES)
    for service, [target] in targets.items():
        assert target == f"{service}:{COMPOSE[service]['environment']['HTTP_PORT']}"
    assert "job" not in job["static_configs"][0]["labels"]
    assert (
        DASHBOARD["templating"]["list"][0]["query"]["query"]
        == f'label_values(up{{job="{job["job_name"]}"}}, service)'
    )


def test_compose_mounts_the_files_prometheus_and_grafana_read():
    for name in ("prometheus", "grafana"):
        assert COMPOSE[name]["profiles"] == ["observability"]
        for volume in COMPOSE[name]["volumes"]:
            source, _, _target = volume.partition(":")
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name} mounts {source}, which does not exist"
    mounts = dict(v.split(":")[:2] for v in COMPOSE["prometheus"]["volumes"] if v.startswith("./"))
    assert mounts["./deploy/observability/alerts.yml"] in PROMETHEUS["rule_files"]
    grafana = dict(v.split(":")[:2] for v in COMPOSE["grafana"]["volumes"])
    provisioning = OBSERVABILITY / "grafana" / "provisioning"
    [provider] = yaml.safe_load((provisioning / "dashboards" / "certibus.yml").read_text())["providers"]
    assert Path(grafana["./deploy/observability/grafana/dashboard.json"]).parent == Path(
        provider["options"]["path"]
    )
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert source["url"] == "http://prometheus:9090" and "9090:9090" in COMPOSE["prometheus"]["ports"]
    uids = {target["datasource"]["uid"] for panel in DASHBOARD["panels"] for target in panel["targets"]}
    assert uids == {source["uid"]}
