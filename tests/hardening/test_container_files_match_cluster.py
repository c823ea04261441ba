"""Dockerfile and compose.yaml run what the cluster test runs (tests/hardening/cluster.py): the
same start command, the same variables on every node, the same health check and HAProxy config,
migrations before any node. Nobody can build them here (no Docker daemon), so this is what keeps
them from drifting away from the setup that is tested."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.hardening.cluster import (
    HEALTH_PATH,
    RELEASE_COMMANDS,
    WORKER_COMMAND,
    gunicorn_command,
    haproxy_config,
    load_test_settings,
    node_env,
)
from tests.test_readme import environment_reads

ROOT = Path(__file__).resolve().parents[2]
PORTALS = ("portal1", "portal2")
# What the Dockerfile's build passes to collectstatic, and must never leave in the image.
SECRETS = ("SECRET_KEY", "DATA_ENCRYPTION_KEY")


def _dockerfile() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def _instruction(name: str) -> list[str]:
    return [line[len(name) :].strip() for line in _dockerfile() if line.startswith(name + " ")]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _harness_names() -> set[str]:
    env = node_env(database_url="", cache_url="", portal_url="", tmp=Path("/nowhere"))
    return set(env) - set(load_test_settings())


def test_the_image_starts_the_command_every_cluster_node_runs() -> None:
    (cmd,) = _instruction("CMD")
    assert json.loads(cmd) == gunicorn_command("0.0.0.0:8000")
    assert _instruction("EXPOSE") == ["8000"]


def test_compose_nodes_run_the_images_command(compose: dict[str, Any]) -> None:
    for name in PORTALS:
        service = compose["services"][name]
        assert service["build"] == "."
        assert not {"command", "entrypoint"} & set(service), name


def test_every_variable_the_harness_gives_a_node_is_set_on_every_compose_node(
    compose: dict[str, Any],
) -> None:
    for name in (*PORTALS, "migrate"):
        environment = set(compose["services"][name]["environment"])
        missing = sorted(_harness_names() - environment)
        assert not missing, f"{name} lacks {missing}"


def test_compose_sets_no_variable_the_portal_does_not_read(compose: dict[str, Any]) -> None:
    known = set(environment_reads(ROOT / "identity" / "settings.py"))
    assert "WEB_CONCURRENCY" in (ROOT / "identity" / "gunicorn_conf.py").read_text()
    known.add("WEB_CONCURRENCY")  # gunicorn's worker count, read by identity/gunicorn_conf.py
    for name in (*PORTALS, "migrate"):
        unknown = sorted(set(compose["services"][name]["environment"]) - known)
        assert not unknown, f"{name} sets {unknown}, which nothing reads"


def test_compose_takes_every_secret_from_the_environment_never_a_literal(
    compose: dict[str, Any],
) -> None:
    environment = compose["services"]["portal1"]["environment"]
    for name in SECRETS:
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", environment[name]), environment[name]
    password = compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD:?")
    assert "${POSTGRES_PASSWORD" in environment["DATABASE_URL"]


def test_migrations_and_the_signing_key_come_before_any_node(compose: dict[str, Any]) -> None:
    migrate = compose["services"]["migrate"]
    shell, flag, script = migrate["command"]
    assert (shell, flag) == ("sh", "-c")
    steps = [shlex.split(step) for step in script.split("&&")]
    assert [tuple(step[2:]) for step in steps] == list(RELEASE_COMMANDS)
    assert all(step[:2] == ["python", "manage.py"] for step in steps)
    for name in PORTALS:
        condition = compose["services"][name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully"


def test_health_checks_probe_readyz_everywhere(compose: dict[str, Any]) -> None:
    (healthcheck,) = _instruction("HEALTHCHECK")
    assert f"127.0.0.1:8000{HEALTH_PATH}'" in healthcheck
    assert f"uri {HEALTH_PATH} " in compose["configs"]["haproxy"]["content"]
    for name in PORTALS:
        assert compose["services"]["haproxy"]["depends_on"][name] == {
            "condition": "service_healthy"
        }


def test_compose_haproxy_config_is_the_harness_template(compose: dict[str, Any]) -> None:
    expected = haproxy_config(
        bind=":8080",
        stats_bind="127.0.0.1:8404",
        socket="/var/lib/haproxy/admin.sock",
        host="${PORTAL_HOST}",
        servers=[(name, f"{name}:8000") for name in PORTALS],
    )
    assert compose["configs"]["haproxy"]["content"] == expected
    haproxy = compose["services"]["haproxy"]["networks"]["portal"]["ipv4_address"]
    assert compose["services"]["portal1"]["environment"]["TRUSTED_PROXIES"] == haproxy


def test_the_image_is_multi_stage_non_root_locked_and_keeps_no_secret() -> None:
    assert len(_instruction("FROM")) >= 2
    (user,) = _instruction("USER")
    assert user not in {"root", "0"}
    runs = _instruction("RUN")
    assert any("uv sync --frozen --no-dev" in run for run in runs)
    (collect,) = [run for run in runs if "collectstatic" in run]
    for name in SECRETS:
        assert f"{name}=" in collect  # throwaway values for that one command...
        assert not any(name in env for env in _instruction("ENV"))  # ...never baked in
        assert not any(name in arg for arg in _instruction("ARG"))
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git", "var/"} <= set(ignored)


def test_compose_runs_the_harness_task_worker_with_the_nodes_environment(
    compose: dict[str, Any],
) -> None:
    worker = compose["services"]["worker"]
    assert worker["command"] == ["python", *WORKER_COMMAND]
    assert worker["environment"] == compose["services"]["portal1"]["environment"]
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
