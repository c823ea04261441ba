"""The bench harness: its bare view is never routed by default, and its report renders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve

from bench import report

ROOT = Path(__file__).resolve().parents[2]


def test_bench_bare_view_is_not_routed_by_default(client):
    with pytest.raises(Resolver404):
        resolve("/bench/bare/")
    assert client.get("/bench/bare/").status_code == 404


def test_production_refuses_bench_urls_on_a_real_host():
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_ENV": "production",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "id.example.com",
        "DATABASE_URL": "postgres://u@127.0.0.1/db",
        "BENCH_URLS": "true",
    }
    code = "import identity.settings"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "BENCH_URLS" in done.stderr


def _point(rps: float, connections: int = 1) -> dict:
    return {"connections": connections, "rps": rps, "p50": 1.0, "p90": 2.0, "p99": 3.0}


def _results() -> dict:
    sweep = [_point(100, 1), _point(200, 16)]
    scale_row = {k: _point(50) for k in ("login_history", "users_search", "authz_check")}
    queries = {
        "POST /api/v1/authz/check/ warm": {
            "queries": 1,
            "minimum": 1,
            "minimum_is": "user",
            "authz_queries": 0,
        }
    }
    return {
        "meta": {
            "date": "2026-01-02T03:04:05+00:00",
            "cores": 2,
            "seconds_per_measurement": 2,
            "scale": "quick",
            "load_tool": "wrk",
            "run_seconds": 1,
        },
        "hash_limit": {"verifies_per_second": 20.0},
        "login": {"api": _point(19), "page": _point(15)},
        "api": {"me_jwt": sweep, "bare": sweep, "healthz": sweep},
        "oauth": {k: _point(300) for k in ("refresh_token", "client_credentials", "introspection")},
        "authz": {"warm": _point(150), "cold": _point(60)},
        "revocation": {"samples": 3, "p50_ms": 5.0, "p99_ms": 9.0, "max_ms": 9.0},
        "scale": [
            {"users": 1000, "events": 1, **scale_row},
            {"users": 10, "events": 1, **scale_row},
        ],
        "rss_mib": [90.0, 91.5],
        "queries": queries,
    }


def test_report_writes_json_markdown_and_charts(tmp_path):
    path = report.write(_results(), tmp_path)
    assert json.loads(path.read_text())["summary"]
    markdown = path.with_suffix(".md").read_text()
    assert "| Login API /s | 19 | Argon2id verifies/s 20.0 | 0.95 | ≥ 0.90 | yes |" in markdown
    assert "2026-01-02-throughput.png" in markdown
    assert (tmp_path / "2026-01-02-throughput.png").stat().st_size > 0
    assert (tmp_path / "2026-01-02-latency.png").stat().st_size > 0


def test_report_uses_the_median_of_alternated_samples(tmp_path):
    results = _results()
    results["login"]["api"] = {**_point(19), "ratio": 0.85, "ratios": [0.8, 0.85, 0.97]}
    last = results["scale"][-1]
    last["authz_check"] = {**_point(50), "drift": 0.1, "drifts": [-0.3, 0.1, 0.15]}
    rows = {row["figure"]: row for row in report.summary(results)}
    login = rows["Login API /s"]
    assert (login["ratio"], login["met"]) == ("0.85 [0.80 to 0.97]", False)
    scale = rows["scale authz_check: p50 largest vs smallest"]
    assert (scale["ratio"], scale["met"]) == ("+10% [-30%…+15%]", True)


def test_hash_limit_counts_one_window_per_process():
    from bench import hashlimit

    result = hashlimit.main(2, 0.2)
    assert result["processes"] == 2
    assert result["verifies_per_second"] > 0
