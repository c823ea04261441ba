"""The bench harness: its bare view is never routed by default, its report renders, and its
CPU accounting reads the workers and the database it measures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.urls import Resolver404, resolve

from accounts.models import User
from bench import load, report, run

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
    return {
        "connections": connections,
        "rps": rps,
        "ok": rps * 2,
        "seconds": 2.0,
        "p50": 1.0,
        "p90": 2.0,
        "p99": 3.0,
        "worker_cpu_s": 1.0,
        "db_cpu_s": 0.25,
        "load_cpu_s": 0.5,
    }


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
    # An RS256 signature costs far less than an Argon2id verify, and three of them still cap
    # an API login below the hash limit.
    assert result["rs256_signs_per_second"] > result["verifies_per_second"]
    expected = result["ms_per_verify"] / (result["ms_per_verify"] + 3 * result["ms_per_rs256_sign"])
    assert result["api_login_ceiling"] == pytest.approx(expected)
    assert 0 < result["api_login_ceiling"] < 1


def test_report_shows_what_three_signatures_leave_of_the_hash_limit(tmp_path):
    results = _results()
    results["hash_limit"].update(api_login_ceiling=0.9, api_login_ceiling_samples=[0.88, 0.92])
    rows = {row["figure"]: row for row in report.summary(results)}
    ceiling = rows["Login API ceiling: Argon2id + its 3 RS256 signatures only"]
    assert (ceiling["ratio"], ceiling["met"]) == ("0.90 [0.88 to 0.92]", None)
    older = {row["figure"] for row in report.summary(_results())}
    assert "Login API ceiling: Argon2id + its 3 RS256 signatures only" not in older


def test_report_gives_oauth_per_core_figures_next_to_the_whole_machine(tmp_path):
    results = _results()
    results["oauth"]["refresh_token"] = {**_point(300), "ok": 800, "worker_cpu_s": 2.0}
    results["oauth"]["introspection"]["db_cpu_s"] = None  # Postgres on another machine
    rows = {row["figure"]: row for row in report.summary(results)}
    refresh = rows["refresh grant: requests per portal core-second"]
    assert (refresh["value"], refresh["ratio"], refresh["met"]) == (400.0, "3.33", True)
    assert refresh["goal"] == "≥ 300 /s per core"
    assert rows["refresh grant: per core incl. DB"]["value"] == 355.6  # 800 / (2.0 + 0.25)
    whole = rows["refresh grant /s, whole machine (2 cores shared with wrk and Postgres)"]
    assert (whole["value"], whole["baseline"], whole["met"]) == (
        300,
        "Keycloak /s x 2 vCPU 240.0",
        None,
    )
    credentials = rows["client credentials: requests per portal core-second"]
    assert (credentials["value"], credentials["met"]) == (600.0, True)
    assert rows["introspection: per core incl. DB"]["value"] == "n/a"
    assert rows["GET /api/v1/me/ (JWT): requests per portal core-second"]["value"] == 400.0
    markdown = report.markdown(results, "stem")
    assert "| refresh grant | 800 | 2.0 | 2.00 | 0.25 | 0.50 | 400 | 356 |" in markdown


def test_oauth_samples_each_use_refresh_tokens_of_their_own():
    tokens = [f"t{i}" for i in range(39)]
    pools = run.refresh_pools(tokens, 3)
    assert [len(pool) for pool in pools] == [13, 13, 13]
    assert sorted(token for pool in pools for token in pool) == sorted(tokens)  # none shared
    with pytest.raises(SystemExit):
        run.refresh_pools(tokens[:2], 3)


def test_oauth_figure_is_the_sample_with_the_median_rate_per_core():
    runs = [
        {"ok": 900, "rps": 450, "worker_cpu_s": 3.0},  # 300 per core
        {"ok": 800, "rps": 400, "worker_cpu_s": 4.0},  # 200
        {"ok": 1000, "rps": 500, "worker_cpu_s": 4.0},  # 250
    ]
    chosen = run.median_per_core(runs)
    assert (chosen["ok"], chosen["per_core_samples"]) == (1000, [300.0, 200.0, 250.0])
    results = _results()
    results["oauth"]["refresh_token"] = {**_point(500), **chosen}
    rows = {row["figure"]: row for row in report.summary(results)}
    refresh = rows["refresh grant: requests per portal core-second"]
    assert (refresh["value"], refresh["met"]) == ("250.0 [200 to 300]", False)


def test_report_marks_per_core_goals_unknown_without_cpu_figures():
    results = _results()
    for point in results["oauth"].values():
        del point["worker_cpu_s"]
    rows = {row["figure"]: row for row in report.summary(results)}
    row = rows["client credentials: requests per portal core-second"]
    assert (row["value"], row["met"]) == ("n/a", None)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main", True),
        ("postgres: 15/main: checkpointer ", True),
        ("postgres: 15/main: postgres identity_bench 127.0.0.1(33108) idle", True),
        ("postgres: postgres identity_bench [local] SELECT", True),
        ("postgres: 15/main: postgres identity_other 127.0.0.1(33108) idle", False),
        ("postgres: 15/main: postgres identity_bench_small 127.0.0.1(1) idle", False),
    ],
)
def test_cpu_meter_counts_only_the_postgres_processes_of_its_database(title, expected):
    assert run.serves(title, "identity_bench") is expected


@pytest.mark.django_db
def test_measure_records_worker_and_database_cpu(monkeypatch):
    """The meter reads the children of a master (here this process) and the Postgres
    backends of the database: both burn CPU during the fake wrk run."""
    from django.db import connection

    def wrk(url: str, case: load.Case, *, connections: int, seconds: float) -> dict:
        burner = subprocess.Popen(  # a "worker" started during the run counts whole
            [sys.executable, "-c", BURN], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        burner.stdout.readline()
        burners.append(burner)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM generate_series(1, 2000000)")
        return {"connections": connections, "rps": 5.0, "ok": 10, "failed": 0, "errors": 0}

    burners: list[subprocess.Popen] = []
    monkeypatch.setattr(load, "run", wrk)
    bench = run.Bench.__new__(run.Bench)
    bench.url = "http://127.0.0.1:1"
    bench.meters = {bench.url: run.CpuMeter(os.getpid(), connection.settings_dict["NAME"])}
    try:
        result = bench.measure(load.Case("/healthz"), 1, warm_up=False)
    finally:
        for burner in burners:
            burner.stdin.close()
            burner.wait()
    assert result["worker_cpu_s"] >= 0.1
    if connection.vendor != "postgresql":
        pytest.skip("the database CPU is read from Postgres processes")
    assert result["db_cpu_s"] > 0


def test_cpu_meter_keeps_the_cpu_of_a_process_that_ends_during_the_block():
    """Django closes a connection older than CONN_MAX_AGE: its backend's CPU must not vanish
    from the figure. Here a "worker" that burns CPU and exits before the block ends."""
    meter = run.CpuMeter(os.getpid(), "no_such_database")
    burner = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.readline()\n" + BURN], stdin=subprocess.PIPE
    )
    with meter.measuring() as cpu:
        burner.communicate(b"go\n")  # burns 0.2 s, then reads stdin to its end and exits
        time.sleep(3 * meter.POLL_SECONDS)
    assert cpu["worker_cpu_s"] >= 0.1


BURN = """
import sys, time
start = time.process_time()
while time.process_time() - start < 0.2:
    pass
print("burnt", flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(not load.wrk_path(), reason="wrk is not installed")
def test_load_counts_a_refused_request_once():
    """wrk counts a 4xx as a status error and the script counts it as rejected: one failure."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = load.run(url, load.Case("/", check_status=True), connections=1, seconds=1)
    finally:
        server.shutdown()
    assert result["requests"] > 0
    assert (result["ok"], result["rps"]) == (0, 0.0)
    assert result["failed"] == result["requests"]


@pytest.mark.django_db
def test_query_count_leaves_out_what_the_call_needed_first(user, api_tokens):
    """The revocation row counted the sign-in it revoked: only the DELETE counts."""
    from rest_framework.test import APIClient

    from bench import queries

    api = APIClient()

    def sign_in() -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {api_tokens(user)['access_token']}"}

    def revoke(headers: dict[str, str]):
        token = headers["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
        sid = run.jwt_claims(token)["sid"]
        return api.delete(f"/api/v1/me/sessions/{sid}/", **headers)

    counted = queries.count(revoke, prepare=sign_in)
    assert counted == queries.MINIMUM["DELETE /api/v1/me/sessions/{id}/"][0]
    assert queries.count(lambda: revoke(sign_in())) > counted


def test_authz_query_count_counts_authz_tables_not_a_column_named_like_them(user):
    """The warm check's 'authz queries' read 1 once the user row gained ``authz_version``:
    the user lookup is not an authz query; reading the role graph or assignments is."""
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User as Account
    from authz import selectors
    from bench import queries

    with CaptureQueriesContext(connection) as user_read:
        Account.objects.get(pk=user.pk)
    with CaptureQueriesContext(connection) as authz_read:
        selectors.role_graph_load()
    assert not queries.reads_authz_tables(user_read.captured_queries[0]["sql"])
    assert queries.reads_authz_tables(authz_read.captured_queries[0]["sql"])


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the seed's SQL is Postgres's")
def test_seeded_bulk_users_are_whole_rows():
    """The seed inserts its users in SQL, bypassing the model's defaults: a column the model
    gains must be filled there too, or the bench fails at the first scale point."""
    from bench import seed

    with connection.cursor() as cursor:
        cursor.execute(seed.USERS_SQL, {"hash": "x", "salt": "s", "start": 1, "stop": 3})
    seeded = User.objects.filter(email__endswith="@bench.example.com").order_by("username")
    assert [user.username for user in seeded] == ["u0000001", "u0000002", "u0000003"]
    assert all(user.is_active and not user.is_service_account for user in seeded)
