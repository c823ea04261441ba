"""API speed against a bare Django view, in one process on Postgres.

Run:
    DJANGO_SETTINGS_MODULE=tests.settings DJANGO_ENV=test FAST_PASSWORD_HASHER=false \\
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/identity_api .venv/bin/python bench/api_speed.py

Measures (a) a bare JSON view through the full middleware stack, (b) GET /api/v1/me/ with a
first-party access token, (c) POST /api/v1/auth/login/ minus one Argon2id verify (the two
sampled in turn, medians compared, so that a change of load hits both), in wall time and in
CPU time (this process, plus its Postgres backend's for the login: the work the same cores
do per login, which a busy shared machine inflates less than the wall clock). Builds its own
test database (bench_<name>) and drops it afterwards.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("FAST_PASSWORD_HASHER", "false")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import include, path, reverse  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "3000"))
LOGINS = int(os.environ.get("BENCH_LOGINS", "30"))
from tests.factories import DEFAULT_PASSWORD as PASSWORD  # noqa: E402


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


# The bench's own URLconf: the portal's plus the bare view, never mounted in production.
bench_urls = types.ModuleType("bench_urls")
bench_urls.urlpatterns = [path("bench/bare/", bare), path("", include("identity.urls"))]


def rate(call: Callable[[], object], n: int) -> float:
    for _ in range(min(200, n)):  # warm up caches, keys and connections
        call()
    started = time.perf_counter()
    for _ in range(n):
        call()
    return n / (time.perf_counter() - started)


def median_seconds(call: Callable[[], object], n: int) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def argon2_verify_call() -> Callable[[], object]:
    from accounts.hashers import Argon2idHasher

    hasher = Argon2idHasher()
    encoded = hasher.encode(PASSWORD, hasher.salt())
    return lambda: hasher.verify(PASSWORD, encoded)


def interleaved_medians(
    first: Callable[[], object], second: Callable[[], object], n: int
) -> tuple[float, float]:
    """Median seconds of each, sampled in turn: a shared machine's load hits both alike."""
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(n):
        for call, out in ((first, samples[0]), (second, samples[1])):
            started = time.perf_counter()
            call()
            out.append(time.perf_counter() - started)
    return statistics.median(samples[0]), statistics.median(samples[1])


def interleaved_cpu(
    verify: Callable[[], object], login: Callable[[], object], n: int
) -> tuple[float, float]:
    """Mean CPU seconds of each, in turn: this process's, plus for the login its Postgres
    backend's (read from /proc in 10 ms ticks, so summed over all n logins)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        stat = Path(f"/proc/{cursor.fetchone()[0]}/stat")

    def backend_seconds() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    totals = [0.0, 0.0]
    backend_before = backend_seconds()
    for _ in range(n):
        for index, call in enumerate((verify, login)):
            started = time.process_time()
            call()
            totals[index] += time.process_time() - started
    backend = backend_seconds() - backend_before
    return totals[0] / n, (totals[1] + backend) / n


def main() -> None:
    from tests.factories import UserFactory

    if settings.PASSWORD_HASHERS[0] != "accounts.hashers.Argon2idHasher":
        raise SystemExit("set FAST_PASSWORD_HASHER=false: the bench measures Argon2id")
    user = UserFactory(password=PASSWORD)
    client = Client()
    login_url, me_url = reverse("api:accounts:login"), reverse("api:accounts:me")
    body = {"login": user.username, "password": PASSWORD}
    token = client.post(login_url, body, content_type="application/json").json()["access_token"]
    authed = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    if authed.get(me_url).status_code != 200:
        raise SystemExit("the access token was refused")

    bare_rps = rate(lambda: client.get("/bench/bare/"), REQUESTS)
    me_rps = rate(lambda: authed.get(me_url), REQUESTS)
    with CaptureQueriesContext(connection) as me_queries:
        authed.get(me_url)

    def login_call() -> object:
        return client.post(login_url, body, content_type="application/json")

    verify, login = interleaved_medians(argon2_verify_call(), login_call, LOGINS)
    cpu_verify, cpu_login = interleaved_cpu(argon2_verify_call(), login_call, 5 * LOGINS)
    # A new unknown login each time: axes would lock a repeated one before any hashing.
    unknown = ({"login": f"nobody-{n}", "password": PASSWORD} for n in range(LOGINS))
    miss = median_seconds(
        lambda: client.post(login_url, next(unknown), content_type="application/json"), LOGINS
    )
    with CaptureQueriesContext(connection) as login_queries:
        client.post(login_url, body, content_type="application/json")

    print(f"(a) bare Django JSON view      {bare_rps:8.0f} req/s")
    print(f"(b) GET /api/v1/me/ with JWT   {me_rps:8.0f} req/s   {len(me_queries)} query")
    print(f"    ratio (b)/(a)              {me_rps / bare_rps:8.2f}   (goal >= 0.60)")
    print(f"(c) Argon2id verify            {verify * 1000:8.1f} ms (median of {LOGINS}, in turn")
    print("    with the login below)")
    print(f"    login, known user          {login * 1000:8.1f} ms")
    print(f"    login overhead             {(login - verify) * 1000:8.1f} ms   (goal <= 10)")
    print(f"    login overhead, CPU time   {(cpu_login - cpu_verify) * 1000:8.1f} ms   (mean of")
    print(f"    {5 * LOGINS}; verify {cpu_verify * 1000:.1f} ms; login + its Postgres backend)")
    print(f"    login queries              {len(login_queries):8d}      (goal <= 6)")
    print(f"    login, unknown login       {miss * 1000:8.1f} ms   (dummy hash; should match)")


if __name__ == "__main__":
    db = settings.DATABASES["default"]
    db.setdefault("TEST", {})["NAME"] = f"bench_{db['NAME']}"
    overrides = {
        "ROOT_URLCONF": bench_urls,
        "RATE_LIMITS": dict.fromkeys(settings.RATE_LIMITS, "1000000/min"),
        "DEBUG": False,
    }
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with override_settings(**overrides):
            main()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
