"""compose.yaml, as `docker compose` would read it: PostgreSQL and one bot process per shard, each configured right."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import yaml

from bot.config import load_config
from tests.test_config import ROOT, TOKEN

PLACEHOLDER = re.compile(r"\$\{(\w+):?[-?]?[^}]*\}")
GIVEN = {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "", "POSTGRES_PASSWORD": "pw"}


def compose() -> dict[str, Any]:
    with open(ROOT / "compose.yaml") as f:
        return yaml.safe_load(f)


def environment(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment with ${VAR} placeholders filled in as the operator's shell would."""
    return {k: PLACEHOLDER.sub(lambda m: GIVEN[m.group(1)], str(v)) for k, v in service["environment"].items()}


def test_compose_runs_one_bot_process_per_shard_on_a_healthy_postgres() -> None:
    services = compose()["services"]
    assert "healthcheck" in services["postgres"]
    bots = {name: s for name, s in services.items() if name != "postgres"}
    shard_ids: list[int] = []
    ports: list[str] = []
    for service in bots.values():
        env = environment(service)
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert env["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert service["build"]["args"]["EXTRAS"] == "postgres"
        assert f"127.0.0.1:{env['HEALTH_PORT']}/readyz" in " ".join(service["healthcheck"]["test"])
        assert int(env["SHARD_COUNT"]) == len(bots)
        shard_ids.append(int(env["SHARD_IDS"]))
        ports += [p.rsplit(":", 1)[0] for p in service["ports"]]
        # The process would start with this environment: config.toml and the variables pass `python -m bot check`.
        health = load_config(ROOT / "config.toml", env).settings.health
        assert (health.host, health.port) == ("0.0.0.0", int(env["HEALTH_PORT"]))
    assert sorted(shard_ids) == list(range(len(bots)))
    assert len(set(ports)) == len(ports) and all(p.startswith("127.0.0.1:") for p in ports)


def test_the_image_can_be_built_with_the_postgres_driver() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ARG EXTRAS=""' in dockerfile and '"/src[$EXTRAS]"' in dockerfile
    with open(ROOT / "pyproject.toml", "rb") as f:
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    assert any(d.startswith("asyncpg") for d in extras["postgres"])
