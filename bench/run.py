"""`make bench`: the portal as in production under wrk, each figure next to its same-run baseline.

    python -m bench.run            # BENCH_SECONDS=8 per measurement, 1k/100k/1M users
    BENCH_SECONDS=2 python -m bench.run   # quick mode (CI): tiny seeds, 2 s per measurement
    BENCH_SCALE=full python -m bench.run  # the scale figure with the real 10M sign-in events

Finds Postgres the way `make test` does (tests.run), creates and drops its own database
``identity_bench`` (BENCH_DATABASE names another), uses Redis database 11 (flushed;
BENCH_REDIS_URL names another), and writes bench/results/<date>.json, .md and PNG charts
(bench.report). Every wrk measurement also records the CPU seconds the portal's workers and
the Postgres processes serving its database spent in it (CpuMeter).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench import code_flow, load, passkeys, report
from tests.processes import gunicorn_command, wait_ready
from tests.run import choose_database, free_port, redis_answers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(os.environ.get("BENCH_RESULTS") or ROOT / "bench" / "results")
BENCH_DB = os.environ.get("BENCH_DATABASE") or "identity_bench"
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/11"
CORES = os.cpu_count() or 1
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
QUICK = SECONDS <= 3
SCALE = os.environ.get("BENCH_SCALE") or ("quick" if QUICK else "default")
# (users, sign-in events) per scale row. Default caps events at 2M to stay under 10 minutes;
# BENCH_SCALE=full seeds the real 10M (about 4 more minutes of bulk inserts).
LEVELS = {
    "quick": [(1_000, 10_000), (5_000, 50_000), (20_000, 200_000)],
    "default": [(1_000, 10_000), (100_000, 1_000_000), (1_000_000, 2_000_000)],
    "full": [(1_000, 10_000), (100_000, 1_000_000), (1_000_000, 10_000_000)],
}[SCALE]
SWEEP = [1, 16] if QUICK else [1, 4, 16, 64]
REVOCATIONS = 20 if QUICK else 100
# Noisy, shared cores: the login figure alternates hash-limit and login samples, and each scale
# point alternates with the smallest one, ROUNDS times, SAMPLE seconds each; medians are kept.
ROUNDS = 3
SAMPLE = max(1.0, SECONDS / 2)
# BENCH_ONLY=passkey,login,metrics_cost: only these figures of the main server, results as JSON
# alone (no table, charts, scale rows or query counts): a quick before/after of one change.
ONLY = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}
SMALL_DB = f"{BENCH_DB}_small"


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --- environment -----------------------------------------------------------------------------


def bench_env(database_url: str, tmp: Path) -> dict[str, str]:
    """Production profile, with only what loopback HTTP and a benchmark need relaxed."""
    names = set(re.findall(r'"(API_THROTTLE_\w+)"', (ROOT / "identity/settings.py").read_text()))
    # Raised so they never refuse, over a one-second window: the limiter keeps each
    # counter's call times for its window, so at "N/min" every request read and rewrote the
    # whole last minute of the load (thousands of times, ~0.3 ms per request more at 5k),
    # where production's 30/min keeps at most 30; over a second, at most one second's worth.
    throttles = dict.fromkeys(names, "100000000/s")
    return {
        **os.environ,
        **throttles,
        "DJANGO_SETTINGS_MODULE": "identity.settings",
        "DJANGO_ENV": "production",
        "DEBUG": "false",
        "SECRET_KEY": os.urandom(32).hex(),
        "DATA_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "PORTAL_URL": "http://127.0.0.1",
        "DATABASE_URL": database_url,
        "CACHE_URL": REDIS_URL,
        "STATIC_ROOT": str(tmp / "static"),
        "VAR_DIR": str(tmp / "var"),
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "EMAIL_URL": "dummymail://",
        "BENCH_URLS": "true",
        # Tokens outlive the run; their lifetime changes nothing in how they are checked.
        "JWT_ACCESS_TOKEN_LIFETIME_SECONDS": "7200",
        "OAUTH_ACCESS_TOKEN_EXPIRE_SECONDS": "7200",
        "LOG_LEVEL": "WARNING",
    }


def bench_database(found_url: str) -> str:
    """Creates ``identity_bench`` afresh on the Postgres found, and returns its URL."""
    import psycopg

    url = re.sub(r"/[^/?]*(\?|$)", rf"/{BENCH_DB}\1", found_url, count=1)
    admin = re.sub(r"/[^/?]*(\?|$)", r"/postgres\1", found_url.split("://", 1)[1], count=1)
    with psycopg.connect("postgresql://" + admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    return url


def drop_database(found_url: str) -> None:
    import psycopg

    admin = re.sub(r"/[^/?]*(\?|$)", r"/postgres\1", found_url.split("://", 1)[1], count=1)
    with psycopg.connect("postgresql://" + admin, autocommit=True) as conn:
        for name in (BENCH_DB, SMALL_DB):
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def clone_database(bench_url: str) -> str:
    """A copy of ``identity_bench`` as it is now (the smallest scale point), for alternation.

    Same users, sign-ins and tokens, so one access token works on both servers."""
    import psycopg

    admin = re.sub(r"/[^/?]*(\?|$)", r"/postgres\1", bench_url.split("://", 1)[1], count=1)
    with psycopg.connect("postgresql://" + admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SMALL_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {SMALL_DB} TEMPLATE {BENCH_DB}")
    return re.sub(rf"/{BENCH_DB}(\?|$)", rf"/{SMALL_DB}\1", bench_url, count=1)


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], env=env, cwd=ROOT, check=True)  # noqa: S603


def python(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603
        [sys.executable, *args], env=env, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True
    )
    return done.stdout


# --- servers ---------------------------------------------------------------------------------


@contextmanager
def gunicorn(
    env: dict[str, str], tmp: Path, *, workers: int, name: str
) -> Iterator[tuple[str, int]]:
    """A gunicorn of the portal on a free loopback port; yields its URL and master pid."""
    port = free_port()
    log = tmp / f"{name}.log"
    command = gunicorn_command(
        port, "-w", str(workers), "--backlog", "2048", "--access-logfile", "/dev/null"
    )
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, log, timeout=60)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def worker_pids(master: int) -> list[int]:
    return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def worker_rss_mib(master: int) -> list[float]:
    sizes = []
    for pid in worker_pids(master):
        status = Path(f"/proc/{pid}/status").read_text()
        kib = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
        sizes.append(round(kib / 1024, 1))
    return sizes


def warm(url: str, case: load.Case, count: int = 20) -> None:
    """Lets every worker load its code, keys and connections before it is measured."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(count):
            client.request(case.method, case.path, headers=case.headers, content=case.body)


# --- CPU accounting --------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A client backend's process title names its peer: "postgres: [cluster: ]user db host(port) ...".
CLIENT_BACKEND = re.compile(r"\(\d+\)|\[local\]")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (proc(5): fields 14 and 15 of /proc/<pid>/stat); None when
    it is gone or unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return None


def postgres_pids(database: str) -> list[int]:
    """The Postgres server processes on this machine that work for ``database``: the
    postmaster, its background processes and the client backends connected to ``database``
    (another database's connections belong to other work sharing the server)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if serves(title, database):
            pids.append(int(entry.name))
    return pids


def serves(title: str, database: str) -> bool:
    """Whether the Postgres process with this title works for ``database``: any server-wide
    process, but of the client backends only those connected to it."""
    return not CLIENT_BACKEND.search(title) or database in title.split()


class CpuMeter:
    """CPU seconds (user + system) that one gunicorn's workers and the Postgres processes
    serving its database spend during a block. The processes seen at the start are read again
    every POLL_SECONDS, so one that ends meanwhile (Django closes a connection older than
    CONN_MAX_AGE) keeps all but its last moments; one that starts meanwhile counts whole."""

    POLL_SECONDS = 0.1

    def __init__(self, master: int, database: str) -> None:
        self.master, self.database = master, database

    def _pids(self) -> tuple[list[int], list[int]]:
        try:
            db = postgres_pids(self.database)
        except OSError:  # no /proc to scan: unknown, not zero
            db = []
        return worker_pids(self.master), db

    @contextmanager
    def measuring(self) -> Iterator[dict]:
        """Yields a dict that holds ``worker_cpu_s`` and ``db_cpu_s`` (None when no Postgres
        process of the database is visible here) once the block has run."""
        start = tuple(_times(pids) for pids in self._pids())
        seen = tuple(dict(times) for times in start)
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(self.POLL_SECONDS):
                for times in seen:
                    _update(times, list(times))

        watcher = threading.Thread(target=poll, name="cpu-meter", daemon=True)
        watcher.start()
        spent: dict = {}
        try:
            yield spent
        finally:
            stop.set()
            watcher.join()
            for times, pids in zip(seen, self._pids(), strict=True):
                _update(times, pids)
            workers, db = (_spent(before, after) for before, after in zip(start, seen, strict=True))
            spent["worker_cpu_s"] = workers
            spent["db_cpu_s"] = db if start[1] or seen[1] else None


def _update(times: dict[int, float], pids: list[int]) -> None:
    for pid in pids:
        value = cpu_seconds(pid)
        # A lower value is another process that took a reused pid: keep the last true one.
        if value is not None and value >= times.get(pid, 0.0):
            times[pid] = value


def _times(pids: list[int]) -> dict[int, float]:
    times = {pid: cpu_seconds(pid) for pid in pids}
    return {pid: value for pid, value in times.items() if value is not None}


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    return round(sum(value - before.get(pid, 0.0) for pid, value in after.items()), 3)


# --- HTTP helpers ----------------------------------------------------------------------------


def api_login(url: str, login: str, password: str) -> dict:
    response = httpx.post(
        f"{url}/api/v1/auth/login/", json={"login": login, "password": password}, timeout=30
    )
    response.raise_for_status()
    return response.json()


def page_login_case(url: str, username: str, password: str) -> load.Case:
    """The sign-in form POST, with one CSRF cookie and token pair reused (as a browser tab)."""
    page = httpx.get(f"{url}/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    cookie = page.cookies["csrftoken"]
    body = httpx.QueryParams(
        {"csrfmiddlewaretoken": token, "username": username, "password": password}
    )
    return load.Case(
        "/accounts/login/",
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookie}",
        },
        body=str(body),
        expect=302,
        check_status=True,
    )


def json_post(path: str, body: dict, token: str = "") -> load.Case:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return load.Case(path, method="POST", headers=headers, body=json.dumps(body))


def bearer(path: str, token: str) -> load.Case:
    return load.Case(path, headers={"Authorization": f"Bearer {token}"})


# --- figures ---------------------------------------------------------------------------------


class Bench:
    """One run: the servers, the seeded cast, and the results dictionary being filled."""

    def __init__(self, url: str, env: dict[str, str], cast: dict, tmp: Path) -> None:
        self.url, self.env, self.cast, self.tmp = url, env, cast, tmp
        self.results: dict = {}
        self.smallest: dict[str, list[dict]] = {}
        # The CPU meter of each server measured, by URL (figures() registers them).
        self.meters: dict[str, CpuMeter] = {}
        password = cast["password"]
        self.member = api_login(url, cast["member"]["username"], password)
        self.admin = api_login(url, cast["admin"]["username"], password)
        self.reader: dict | None = None  # signed in by the first scale row

    def measure(
        self,
        case: load.Case,
        connections: int,
        url: str | None = None,
        seconds: float = SECONDS,
        warm_up: bool = True,
    ) -> dict:
        target = url or self.url
        if warm_up and not case.tokens_file:
            warm(target, case)
        meter = self.meters.get(target)
        with meter.measuring() if meter else nullcontext({}) as cpu:
            result = load.run(target, case, connections=connections, seconds=seconds)
        result.update(cpu)
        if result["failed"] or result["errors"]:
            say(f"  {case.method} {case.path}: {result['failed']} failed, {result['errors']} err")
        say(
            f"  {case.method} {case.path} c={connections}: {result['rps']:.0f}/s{_per_core(result)}"
        )
        return result

    def hash_limit_sample(self) -> dict:
        return json.loads(python(self.env, "-m", "bench.hashlimit", str(CORES), str(SAMPLE)))

    def login(self) -> None:
        """Hash limit, login API and page sign-in, alternated ROUNDS times: each round's
        ratios are taken against the hash limit measured seconds before, and the median kept."""
        password = self.cast["password"]
        body = {"login": self.cast["member"]["username"], "password": password}
        cases = {
            "api": json_post("/api/v1/auth/login/", body),
            "page": page_login_case(self.url, body["login"], password),
        }
        c = 2 * CORES
        hashes: list[float] = []
        ceilings: list[float] = []
        samples: dict[str, list[dict]] = {name: [] for name in cases}
        for turn in range(ROUNDS):
            limit = self.hash_limit_sample()
            hashes.append(limit["verifies_per_second"])
            ceilings.append(limit["api_login_ceiling"])
            for name, case in cases.items():
                run = self.measure(case, c, seconds=SAMPLE, warm_up=turn == 0)
                samples[name].append(run)
        self.results["hash_limit"] = {
            "verifies_per_second": statistics.median(hashes),
            "samples": hashes,
            # hash / (hash + 3 RS256 signatures): the most an API login could reach.
            "api_login_ceiling": statistics.median(ceilings),
            "api_login_ceiling_samples": ceilings,
            "processes": CORES,
        }
        self.results["login"] = {
            name: rounds_summary(runs, hashes) for name, runs in samples.items()
        }

    def passkey(self) -> None:
        """Passkey sign-ins (options + answer, over the API) against password sign-ins (the
        login API), alternated ROUNDS times; the median of the per-round ratios (goal 5: a
        passkey needs no Argon2)."""
        password = self.cast["password"]
        token = api_login(self.url, self.cast["passkey"]["username"], password)["access_token"]
        authenticator = passkeys.enrol(self.url, self.env["PORTAL_URL"], token)
        body = {"login": self.cast["member"]["username"], "password": password}
        login_case, options_case = json_post("/api/v1/auth/login/", body), passkeys.options_case()
        c = 2 * CORES
        rounds = []
        for turn in range(ROUNDS):
            login_run = self.measure(login_case, c, seconds=SAMPLE, warm_up=False)
            options_run = self.measure(options_case, c, seconds=SAMPLE, warm_up=turn == 0)
            count = passkeys.pool_size(options_run["rps"], SAMPLE)
            answers = passkeys.answers_case(self.url, authenticator, count)
            answers_run = self.measure(answers, c, seconds=SAMPLE, warm_up=False)
            rate = passkeys.sign_ins_per_second(options_run["rps"], answers_run["rps"])
            # The same per portal core-second: less moved by what else the cores run.
            per_core = passkeys.sign_ins_per_second(
                passkeys.per_core(options_run), passkeys.per_core(answers_run)
            )
            password_per_core = passkeys.per_core(login_run)
            rounds.append(
                {
                    "password_rps": login_run["rps"],
                    "options": options_run,
                    "answers": answers_run,
                    "rps": rate,
                    "ratio": rate / login_run["rps"] if login_run["rps"] else 0.0,
                    "per_core_ratio": per_core / password_per_core if password_per_core else 0.0,
                }
            )
        middle = sorted(rounds, key=lambda run: run["ratio"])[len(rounds) // 2]
        self.results["passkey"] = {
            **middle,
            "ratios": [run["ratio"] for run in rounds],
            "per_core_ratios": [run["per_core_ratio"] for run in rounds],
            "samples": [run["rps"] for run in rounds],
        }

    def api(self) -> None:
        token = self.member["access_token"]
        cases = {
            "me_jwt": bearer("/api/v1/me/", token),
            "bare": load.Case("/bench/bare/"),
            "healthz": load.Case("/healthz"),
        }
        self.results["api"] = {
            name: [self.measure(case, c) for c in SWEEP] for name, case in cases.items()
        }

    def oauth(self) -> None:
        """Each grant ROUNDS times, alternated, each time with refresh tokens not yet used; the
        figure is the sample with the median rate per portal core-second (one sample of these
        moved by a fifth between identical runs on a shared machine)."""
        basic = {"Content-Type": "application/x-www-form-urlencoded"}
        # The last token is kept back for bench.queries (rotation kills the ones used here).
        pools = refresh_pools(self.cast["refresh_tokens"][:-1], ROUNDS)
        # A spare token per connection: a chain that one failed answer breaks would leave its
        # connection to spin on "pool-exhausted" refusals (quick mode did, with no spares).
        c = min(8, min(len(pool) for pool in pools) // 2)
        credentials = load.Case(
            "/o/token/",
            method="POST",
            headers={**basic, "Authorization": self.cast["service_basic"]},
            body="grant_type=client_credentials&scope=read",
        )
        introspect = load.Case(
            "/o/introspect/",
            method="POST",
            headers={**basic, "Authorization": self.cast["service_basic"]},
            body=f"token={self.cast['service_access_token']}",
        )
        samples: dict[str, list[dict]] = {}
        for pool in pools:
            refresh = load.Case(
                "/o/token/",
                method="POST",
                headers={**basic, "Authorization": self.cast["web_basic"]},
                tokens_file=load.write_tokens(pool),
                body_prefix="grant_type=refresh_token&refresh_token=",
            )
            for name, case, connections in (
                ("refresh_token", refresh, c),
                ("client_credentials", credentials, 8),
                ("introspection", introspect, 8),
            ):
                run = self.measure(case, connections, seconds=SAMPLE)
                samples.setdefault(name, []).append(run)
        self.results["oauth"] = {name: median_per_core(runs) for name, runs in samples.items()}

    def code_flow(self) -> None:
        """The authorization-code flow with PKCE of a browser already signed in (consent
        remembered), ROUNDS samples; the figure is the sample with the median flows per portal
        core-second. Checked first, once per connection, with the tokens read in full."""
        member, password = self.cast["member"]["username"], self.cast["password"]
        cookie = code_flow.browser_cookie(self.url, member, password)
        connections = 8
        for _ in range(connections):
            code_flow.one_flow(self.url, self.cast, cookie)
        runs = []
        for _ in range(ROUNDS):
            # A PKCE pair per flow, far more than a sample completes (~1k flows/s at most here).
            case = code_flow.case(self.cast, cookie, int(5000 * SAMPLE), self.tmp)
            run = self.measure(case, connections, seconds=SAMPLE, warm_up=False)
            portal, _ = code_flow.flows_per_core(run)
            shown = f", {portal:.0f} per portal core-second" if portal is not None else ""
            say(f"  code flow: {run['completed'] / run['seconds']:.0f} flows/s{shown}")
            runs.append(run)
        self.results["code_flow"] = code_flow.summary(runs)

    def metrics_cost(self) -> None:
        """/me and the login API on the main server (metrics on) and on one like it with
        METRICS_ENABLED=false, alternated ROUNDS times (the order flipped each round); each
        round's ratio on/off of requests per portal core-second, and their median."""
        body = {"login": self.cast["member"]["username"], "password": self.cast["password"]}
        cases = {
            "me": bearer("/api/v1/me/", self.member_token),
            "login": json_post("/api/v1/auth/login/", body),
        }
        off_env = {**self.env, "METRICS_ENABLED": "false"}
        runs: dict[str, dict[str, list[dict]]] = {n: {"on": [], "off": []} for n in cases}
        with gunicorn(off_env, self.tmp, workers=CORES, name="metrics-off") as (off_url, master):
            self.meters[off_url] = CpuMeter(master, BENCH_DB)
            for turn in range(ROUNDS):
                order = [("on", self.url), ("off", off_url)]
                for name, case in cases.items():
                    for state, url in order if turn % 2 == 0 else order[::-1]:
                        run = self.measure(case, 2 * CORES, url, SAMPLE, warm_up=turn == 0)
                        runs[name][state].append(run)
        self.results["metrics_cost"] = {
            name: metrics_cost_summary(pair["on"], pair["off"]) for name, pair in runs.items()
        }

    def authz_check(self, url: str | None = None) -> dict:
        case = json_post("/api/v1/authz/check/", {"permission": "bench.check"}, self.member_token)
        return self.measure(case, 16, url)

    @property
    def member_token(self) -> str:
        return self.member["access_token"]

    def revocation(self, other_url: str) -> None:
        self.results["revocation"] = revocation_delays(
            self.url, other_url, self.cast["member"]["username"], self.cast["password"]
        )

    def scale_cases(self, member: str, admin: str, reader: str) -> dict[str, tuple[load.Case, int]]:
        check = json_post("/api/v1/authz/check/", {"permission": "bench.check"}, member)
        return {
            "login_history": (bearer("/api/v1/me/login-history/", reader), 8),
            "users_search": (bearer("/api/v1/users/?search=u000001", admin), 8),
            "authz_check": (check, 16),
        }

    def scale_row(self, users: int, events: int, small_url: str) -> dict:
        """Each endpoint on this point's server and on the smallest point's server (a copy of
        the database taken at the first point), alternated ROUNDS times in both orders, so
        that a change of load on the shared machine hits both sides of every ratio alike."""
        password = self.cast["password"]
        # Each server checks a token's sign-in in its own database: one sign-in per server.
        tokens = [
            api_login(small_url, self.cast[who]["username"], password)["access_token"]
            for who in ("member", "admin", "reader")
        ]
        if self.reader is None:
            self.reader = api_login(self.url, self.cast["reader"]["username"], password)
        cases = self.scale_cases(
            self.member_token, self.admin["access_token"], self.reader["access_token"]
        )
        small_cases = self.scale_cases(*tokens)
        row: dict = {"users": users, "events": events}
        for name, (case, connections) in cases.items():
            here, small = [], []
            sides = [(here, case, self.url), (small, small_cases[name][0], small_url)]
            for turn in range(ROUNDS):
                for runs, side_case, url in sides if turn % 2 == 0 else sides[::-1]:
                    runs.append(self.measure(side_case, connections, url, seconds=SAMPLE))
            row[name] = {
                **median_sample(here),
                "samples": [run["p50"] for run in here],
                "smallest_samples": [run["p50"] for run in small],
                "drifts": [a["p50"] / b["p50"] - 1 for a, b in zip(here, small, strict=True)],
            }
            row[name]["drift"] = statistics.median(row[name]["drifts"])
            self.smallest.setdefault(name, []).extend(small)
        return row

    def smallest_row(self, users: int, events: int) -> dict:
        """The smallest point, from every sample its server answered during the comparisons."""
        row: dict = {"users": users, "events": events}
        for name, runs in self.smallest.items():
            row[name] = {**median_sample(runs), "samples": [run["p50"] for run in runs]}
        return row


def _per_core(result: dict) -> str:
    worker = result.get("worker_cpu_s")
    if not worker:
        return ""
    text = f", {result['ok'] / worker:.0f} per portal core-second"
    if result.get("db_cpu_s") is not None:
        text += f", {result['ok'] / (worker + result['db_cpu_s']):.0f} incl. DB"
    return text


def refresh_pools(tokens: list[str], count: int) -> list[list[str]]:
    """``tokens`` dealt into ``count`` pools: a refresh token works once, so each sample of
    the refresh grant needs its own."""
    pools = [tokens[index::count] for index in range(count)]
    if not all(pools):
        raise SystemExit(f"bench: {len(tokens)} refresh tokens cannot fill {count} pools")
    return pools


def median_per_core(runs: list[dict]) -> dict:
    """The run with the median rate per portal core-second (by rate where CPU is unknown),
    with every run's rate per core as ``per_core_samples``."""

    def rate(run: dict) -> float:
        worker = run.get("worker_cpu_s")
        return run["ok"] / worker if worker else run["rps"]

    chosen = sorted(runs, key=rate)[len(runs) // 2]
    return {**chosen, "per_core_samples": [rate(run) for run in runs]}


def median_sample(runs: list[dict]) -> dict:
    """The run with the median p50 (its rate and percentiles belong together)."""
    return sorted(runs, key=lambda run: run["p50"])[len(runs) // 2]


def rounds_summary(runs: list[dict], hashes: list[float]) -> dict:
    ratios = [run["rps"] / limit for run, limit in zip(runs, hashes, strict=True) if limit]
    middle = sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]
    return {
        **middle,
        "samples": [run["rps"] for run in runs],
        "ratios": ratios,
        "ratio": statistics.median(ratios) if ratios else 0.0,
    }


def metrics_cost_summary(on: list[dict], off: list[dict]) -> dict:
    """Metrics on against off, round by round: requests per portal core-second where the CPU
    was read (else per second), the median ratio and the median samples of each."""

    def rate(run: dict) -> float:
        worker = run.get("worker_cpu_s")
        return run["ok"] / worker if worker else run["rps"]

    ratios = [rate(a) / rate(b) for a, b in zip(on, off, strict=True) if rate(b)]
    return {
        "on": median_per_core(on),
        "off": median_per_core(off),
        "ratios": ratios,
        "ratio": statistics.median(ratios) if ratios else 0.0,
    }


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def revocation_delays(url_a: str, url_b: str, username: str, password: str) -> dict:
    """Sign in, use the token on B, revoke on A, poll B until 401: the delay, N times."""
    delays = []
    with httpx.Client(timeout=10) as a, httpx.Client(timeout=10) as b:
        for _ in range(REVOCATIONS):
            tokens = api_login(url_a, username, password)
            auth = {"Authorization": f"Bearer {tokens['access_token']}"}
            assert b.get(f"{url_b}/api/v1/me/", headers=auth).status_code == 200  # noqa: S101
            sid = jwt_claims(tokens["access_token"])["sid"]
            revoked = time.perf_counter()
            response = a.delete(f"{url_a}/api/v1/me/sessions/{sid}/", headers=auth)
            assert response.status_code == 204, response.text  # noqa: S101
            while b.get(f"{url_b}/api/v1/me/", headers=auth).status_code != 401:
                if time.perf_counter() - revoked > 10:
                    raise RuntimeError("process B still accepts a revoked token after 10 s")
            delays.append((time.perf_counter() - revoked) * 1000)
    delays.sort()
    return {
        "samples": len(delays),
        "p50_ms": delays[len(delays) // 2],
        "p99_ms": delays[min(len(delays) - 1, int(len(delays) * 0.99))],
        "max_ms": delays[-1],
    }


# --- the run ---------------------------------------------------------------------------------


def prepare(env: dict[str, str], tmp: Path) -> dict:
    timed("migrate", lambda: manage(env, "migrate", "--noinput", "-v0"))
    manage(env, "ensure_signing_key")
    timed("collectstatic", lambda: manage(env, "collectstatic", "--noinput", "-v0"))
    flush_redis()
    # ROUNDS pools of refresh tokens, each twice the connections that use it (8 at most).
    pool = "32" if QUICK else "52"
    cast_env = {**env, "BENCH_REFRESH_POOL": pool}
    timed("cast", lambda: python(cast_env, "-m", "bench.seed", "cast", str(tmp / "cast.json")))
    return json.loads((tmp / "cast.json").read_text())


def timed(label: str, step: Callable[[], object]) -> object:
    started = time.monotonic()
    say(f"{label}...")
    value = step()
    say(f"{label}: {time.monotonic() - started:.0f}s")
    return value


def figures(env: dict[str, str], tmp: Path, cast: dict) -> dict:
    grow_first = LEVELS[0]
    python(env, "-m", "bench.seed", "grow", str(grow_first[0]), str(grow_first[1]))
    small_env = {
        **env,
        "DATABASE_URL": timed("copy smallest", lambda: clone_database(env["DATABASE_URL"])),
    }
    # One server with no cache at all (the cold permission check), and one process for the
    # query counts: neither shares copies with another process, so production may allow it.
    local = {"ALLOW_LOCAL_CACHE_IN_PRODUCTION": "true"}
    cold_env = {**env, **local, "CACHE_URL": "dummycache://"}
    with (
        gunicorn(env, tmp, workers=CORES, name="main") as (url, master),
        gunicorn(env, tmp, workers=1, name="other") as (other_url, _),
    ):
        bench = Bench(url, env, cast, tmp)
        bench.meters[url] = CpuMeter(master, BENCH_DB)
        if ONLY:
            for name in sorted(ONLY):
                timed(name, getattr(bench, name))
            return bench.results
        timed("login", bench.login)
        timed("passkey", bench.passkey)
        timed("api", bench.api)
        timed("oauth", bench.oauth)
        timed("code_flow", bench.code_flow)
        timed("metrics cost", bench.metrics_cost)
        bench.results["authz"] = {"warm": timed("authz warm", bench.authz_check)}
        timed("revocation", lambda: bench.revocation(other_url))
        bench.results["rss_mib"] = worker_rss_mib(master)
        rows = []
        with gunicorn(small_env, tmp, workers=CORES, name="small") as (small_url, small_master):
            bench.meters[small_url] = CpuMeter(small_master, SMALL_DB)
            for users, events in LEVELS[1:]:
                timed(
                    "seed",
                    lambda u=users, e=events: python(
                        env, "-m", "bench.seed", "grow", str(u), str(e)
                    ),
                )
                rows.append(
                    timed(
                        f"scale {users}",
                        lambda u=users, e=events: bench.scale_row(u, e, small_url),
                    )
                )
        bench.results["scale"] = [bench.smallest_row(*grow_first), *rows]
    with gunicorn(cold_env, tmp, workers=CORES, name="cold") as (cold_url, cold_master):
        bench.meters[cold_url] = CpuMeter(cold_master, BENCH_DB)
        bench.results["authz"]["cold"] = timed("authz cold", lambda: bench.authz_check(cold_url))
    queries_env = {**env, **local, "CACHE_URL": "locmemcache://bench-queries"}
    bench.results["queries"] = json.loads(
        python(queries_env, "-m", "bench.queries", str(tmp / "cast.json"))
    )
    return bench.results


def main() -> int:
    if not load.wrk_path():
        say("wrk is missing: `apt-get install wrk` (make bench does it)")
        return 2
    if not redis_answers():
        say("no Redis on 127.0.0.1:6379: the revocation and cache figures need it")
        return 2
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="identity-bench-"))
    cleanups: list[Callable[[], None]] = []
    found = None
    try:
        found, origin = choose_database(tmp, cleanups)
        if not found.startswith("postgres"):
            say("the bench needs Postgres")
            return 2
        say(f"Postgres: {origin}; {CORES} cores; {SECONDS:g} s per measurement; scale {SCALE}")
        env = bench_env(bench_database(found), tmp)
        cast = prepare(env, tmp)
        results = figures(env, tmp, cast)
        results["meta"] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "cores": CORES,
            "seconds_per_measurement": SECONDS,
            "scale": SCALE,
            "levels": LEVELS,
            "load_tool": "wrk 1 thread",
            "run_seconds": round(time.monotonic() - started),
        }
        if ONLY:
            RESULTS.mkdir(parents=True, exist_ok=True)
            out = RESULTS / f"only-{'-'.join(sorted(ONLY))}-{results['meta']['date']}.json"
            out.write_text(json.dumps(results, indent=1, default=str))
            say(f"done in {time.monotonic() - started:.0f}s: {out}")
            return 0
        out = report.write(results, RESULTS)
        say(f"done in {time.monotonic() - started:.0f}s: {out}")
        print((out.with_suffix(".md")).read_text())
        return 0
    finally:
        if found and found.startswith("postgres"):
            drop_database(found)
        with suppress(Exception):  # cleanup must not hide the real error
            flush_redis()
        for cleanup in cleanups:
            cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
