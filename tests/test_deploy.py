"""deploy/: no Docker engine here, so the files are loaded and held against the code:
the command parses, ports and paths agree, the config validates, and every metric and
label the dashboard queries is one /metrics really exposes."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.cli import _parser
from gateway.config import settings_from_mapping
from gateway.simulators import SIMULATORS
from gateway.state.sealing import new_key
from gateway.telemetry import metrics
from tests.conftest import Simulators, gateway_client
from tests.telemetry_helpers import parse

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
GATEWAYS = ("gateway-1", "gateway-2")


def _yaml(name: str) -> Any:
    return yaml.safe_load((DEPLOY / name).read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = _yaml("compose.yaml")
    return data


def _container_port(service: dict[str, Any]) -> int:
    args = _parser().parse_args(service["command"][1:])
    assert args.command == "serve"
    return int(args.port)


def test_two_gateway_replicas_redis_prometheus_and_grafana(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {*GATEWAYS, "redis", "prometheus", "grafana"}
    host_ports = []
    for name in GATEWAYS:
        service = services[name]
        assert service["command"][0] == "gateway"  # the console script pyproject installs
        port = _container_port(service)
        published, container = service["ports"][0].split(":")
        assert int(container) == port
        host_ports.append(published)
        assert service["build"] == {"context": "..", "dockerfile": "Dockerfile"}
        assert (DEPLOY / service["build"]["context"] / "Dockerfile").is_file()
        env = service["environment"]
        mounts = dict(v.rsplit(":", 1)[0].split(":") for v in service["volumes"])
        config_mount = {c: h for h, c in mounts.items()}[env["GATEWAY_CONFIG"]]
        assert (DEPLOY / config_mount).is_file()
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert "redis" in service["depends_on"]
    assert len(set(host_ports)) == 2
    assert services["redis"]["command"][0] == "redis-server"


def test_the_gateway_config_validates_with_every_variable_from_the_env_file(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (DEPLOY / "gateway.toml").read_text()
    example = dict(
        line.split("=", 1)
        for line in (DEPLOY / "env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    provided = set(example) | set(compose["services"]["gateway-1"]["environment"])
    needed = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text))
    assert needed <= provided, needed - provided
    for name in needed:
        value = example.get(name) or compose["services"]["gateway-1"]["environment"].get(name)
        monkeypatch.setenv(name, value or (new_key() if name == "CACHE_KEY" else "x"))
    for name in ("LICENSING_URL", "RESELLER_URL", "SHOP_URL", "ADOBE_URL", "HIGHLEVEL_URL"):
        monkeypatch.setenv(name, "https://backend.example.com")
    data = tomllib.loads(text)
    assert data["cache"] == {  # the documented keys (docs/configuration.md)
        "backend": "redis",
        "url": "${REDIS_URL}",
        "encryption_key": "${CACHE_KEY}",
    }
    settings = settings_from_mapping(data)
    assert settings.cache.backend == "redis"
    assert settings.cache.url == compose["services"]["gateway-1"]["environment"]["REDIS_URL"]
    assert settings.server.metrics and settings.server.log_format == "json"
    assert settings.server.port == _container_port(compose["services"]["gateway-1"])
    assert set(settings.sources) == {"licensing", "reseller", "eu-shop", "adobe", "hl-main"}


def test_prometheus_scrapes_each_replica_at_the_metrics_route(
    compose: dict[str, Any], sims: Simulators
) -> None:
    (job,) = _yaml("prometheus.yml")["scrape_configs"]
    targets = job["static_configs"][0]["targets"]
    ports = {name: _container_port(compose["services"][name]) for name in GATEWAYS}
    assert sorted(targets) == sorted(f"{name}:{port}" for name, port in ports.items())
    mount = compose["services"]["prometheus"]["volumes"][0].split(":")
    assert (DEPLOY / mount[0]).resolve() == DEPLOY / "prometheus.yml"
    assert compose["services"]["prometheus"]["command"] == [f"--config.file={mount[1]}"]
    with gateway_client(sims.settings(["hamgam"])) as client:
        response = client.get(job["metrics_path"])
    assert response.status_code == 200 and "gateway_requests_total" in response.text


def _exposed(sims: Simulators) -> dict[str, set[str]]:
    """Every sample name /metrics exposes after some traffic, with its label names."""
    metrics.record_cache("eu-shop", "hit")
    with gateway_client(sims.settings(["hamgam"])) as client:
        client.post("/graphql", json={"query": "{ sources { name } }"})
        client.post(
            "/graphql",
            json={"query": '{ orderBySourceId(source: "eu-shop", sourceId: "123") { id } }'},
        )
        samples = parse(client.get("/metrics").text)
    exposed: dict[str, set[str]] = {}
    for name, labels in samples:
        exposed.setdefault(name, set()).update(k for k, _ in labels)
    return exposed


ALLOWED_VALUES = {
    "outcome": set(metrics.REQUEST_OUTCOMES)
    | set(metrics.BACKEND_OUTCOMES)
    | set(metrics.CLIENT_OUTCOMES),
    "result": set(metrics.CACHE_RESULTS),
}


def test_the_dashboard_queries_only_what_metrics_exposes(sims: Simulators) -> None:
    dashboard = json.loads((DEPLOY / "grafana/dashboards/gateway.json").read_text())
    datasource = _yaml("grafana/provisioning/datasources/prometheus.yml")["datasources"][0]
    exposed = _exposed(sims)
    used: set[str] = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == datasource["uid"]
        for target in panel["targets"]:
            expr = target["expr"]
            names = set(re.findall(r"\b(gateway_[a-z_]+)", expr))
            for name in names:
                assert name in exposed, f"{panel['title']}: {name} is not in /metrics"
            used |= names
            labels = set().union(*(exposed[n] for n in names)) | {"le", "job"}
            for group in re.findall(r"by \(([^)]*)\)", expr):
                for label in (g.strip() for g in group.split(",")):
                    assert label in labels, f"{panel['title']}: no label {label}"
            for label, values in re.findall(r'(\w+)=~?"([^"]*)"', expr):
                assert label in labels, f"{panel['title']}: no label {label}"
                if label in ALLOWED_VALUES:
                    assert set(values.split("|")) <= ALLOWED_VALUES[label], expr
    # every family docs/operations.md names is on the dashboard
    assert {re.sub(r"_(bucket|count|sum)$", "", n) for n in used} >= {
        "gateway_requests_total",
        "gateway_request_duration_seconds",
        "gateway_backend_requests_total",
        "gateway_backend_request_duration_seconds",
        "gateway_backend_circuit_open",
        "gateway_cache_requests_total",
        "gateway_client_requests_total",
    }
    provider = _yaml("grafana/provisioning/dashboards/gateway.yml")["providers"][0]
    grafana = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["grafana"]
    mounts = dict(v.rsplit(":", 1)[0].split(":") for v in grafana["volumes"])
    host = {c: h for h, c in mounts.items()}[provider["options"]["path"]]
    assert (DEPLOY / host / "gateway.json").is_file()
    # Grafana reads provisioning/ from this path: the datasource and the dashboard provider
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"


def _probe(command: str) -> tuple[int, str]:
    """The port and path a health-check command asks for."""
    # the port is a number, or the Dockerfile's {os.environ.get("PORT", "8000")}
    found = re.search(r"http://127\.0\.0\.1:([^']*?)(/\w+)'", command)
    assert found, command
    return int(re.findall(r"\d+", found.group(1))[-1]), found.group(2)


def test_each_probe_asks_what_its_comment_says_and_holds_through_a_backend_outage(
    compose: dict[str, Any], sims: Simulators
) -> None:
    dockerfile = (DEPLOY.parent / "Dockerfile").read_text()
    liveness = _probe(dockerfile.split("HEALTHCHECK", 1)[1].split("\nCMD", 1)[0])
    assert liveness == (8000, "/healthz")
    probes = {}
    for name in GATEWAYS:
        service = compose["services"][name]
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD"
        probes[name] = _probe(test[-1])
        assert probes[name] == (_container_port(service), "/readyz")
    comments = (DEPLOY / "compose.yaml").read_text()
    assert "/healthz: is the process up" in comments and "/readyz: can this" in comments
    for kind in SIMULATORS:
        sims.set.faults.set(kind, "status=503")
    overrides = {name: {"retries": 0} for name in sims.config()["sources"]}
    with gateway_client(sims.settings(overrides=overrides)) as client:
        body = client.post("/graphql", json={"query": "{ orders(first: 5) { nodes { id } } }"})
        assert {e["extensions"]["code"] for e in body.json()["errors"]} == {"BACKEND_UNAVAILABLE"}
        live, ready = client.get(liveness[1]), client.get(probes["gateway-1"][1])
    # every backend down: alive, and still in rotation (partial answers beat none)
    assert live.status_code == 200 and ready.status_code == 200
    assert {s["healthy"] for s in ready.json()["sources"].values()} == {False}
