"""docker-compose.yml and deploy/orderbridge.compose.toml agree (no Docker needed): a simulator
service for every ERP and shop we simulate, every connection pointing at a service of the file on
the simulator's own port, the config valid, and the `sentinel` profile wired as the README says."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from core.settings import load_settings
from simulators.registry import SIMULATORS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return dict(compose["services"])


def test_every_simulator_has_a_service_on_its_port(services: dict[str, Any]) -> None:
    for name in SIMULATORS:
        service = services[f"{name}-sim"]
        assert service["command"][:2] == ["simulate", name]


def test_every_connection_calls_a_service_of_the_file_on_its_simulators_port(
    services: dict[str, Any],
) -> None:
    settings = load_settings(
        str(ROOT / "deploy" / "orderbridge.compose.toml"), env={"FLOWER_BASIC_AUTH": "a:b"}
    )
    erps = {conn.erp for conn in settings.connections.values()}
    assert erps == {"poweroffice", "exact", "duett", "sapera"}  # every ERP, as in the example
    for name, conn in settings.connections.items():
        urls = [conn.erp_settings.base_url]  # type: ignore[attr-defined]
        if conn.shop.api_url:
            urls.append(conn.shop.api_url)
        for url in urls:
            parts = urlsplit(url)
            simulator = parts.hostname.removesuffix("-sim") if parts.hostname else ""
            assert f"{simulator}-sim" in services, (name, url)
            assert parts.port == SIMULATORS[simulator][1], (name, url)


def test_the_sentinel_profile_has_three_nodes_and_three_sentinels_agreeing_on_the_master(
    services: dict[str, Any],
) -> None:
    profile = {name for name, s in services.items() if "sentinel" in s.get("profiles", [])}
    assert profile == {"redis-1", "redis-2", "redis-3", "sentinel-1", "sentinel-2", "sentinel-3"}
    for replica in ("redis-2", "redis-3"):
        command = services[replica]["command"]
        assert command[command.index("--replicaof") + 1 :][:2] == ["redis-1", "6379"]
    for sentinel in ("sentinel-1", "sentinel-2", "sentinel-3"):
        script = " ".join(services[sentinel]["command"])
        assert "sentinel monitor orderbridge redis-1 6379 2" in script
        assert "down-after-milliseconds orderbridge 5000" in script  # >= 3000: see README
    environment = services["intake"]["environment"]
    assert environment["ORDERBRIDGE_REDIS_URL"].startswith("${ORDERBRIDGE_REDIS_URL:-redis://")
    assert "ORDERBRIDGE_REDIS_MASTER_NAME" in environment


def test_the_rabbitmq_profile_is_a_cluster_of_three_nodes_the_workers_can_be_pointed_at(
    services: dict[str, Any],
) -> None:
    profile = {name for name, s in services.items() if "rabbitmq" in s.get("profiles", [])}
    nodes = ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"]
    assert profile == set(nodes)
    assert [services[name]["hostname"] for name in nodes] == nodes  # rabbit@<hostname>
    for name in nodes:
        script = " ".join(services[name]["command"])
        for i, peer in enumerate(nodes, start=1):
            assert f"cluster_formation.classic_config.nodes.{i} = rabbit@{peer}" in script
        assert ".erlang.cookie" in script and "RABBITMQ_COOKIE" in script  # one cookie for all
    volumes = {services[name]["volumes"][0].split(":")[0] for name in nodes}
    assert len(volumes) == 3  # each node its own data
    for process in ("intake", "worker", "beat", "flower"):
        assert "ORDERBRIDGE_BROKER_URL" in services[process]["environment"]
