"""Test runner: picks a database, then runs pytest (``python -m tests.run [pytest args]``).

Order: $DATABASE_URL; a Postgres on 127.0.0.1:5432; a throwaway cluster started with the
local Postgres binaries; SQLite with a loud warning (refused when REQUIRE_POSTGRES=1).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

LOCAL_PG = ("127.0.0.1", 5432)
LOCAL_REDIS = ("127.0.0.1", 6379)
SQLITE_WARNING = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!  NO POSTGRES FOUND: running the tests on SQLite.                          !!
!!  Production and CI use Postgres; constraints, locking and case-insensitive !!
!!  indexes behave differently. A green run here proves less than you think. !!
!!  Set DATABASE_URL, start Postgres on 127.0.0.1:5432 or install initdb.     !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


def say(message: str) -> None:
    print(f"tests.run: {message}", file=sys.stderr, flush=True)


def local_postgres_url() -> str | None:
    """The URL of a Postgres answering on 127.0.0.1:5432, if one does."""
    import psycopg

    host, port = LOCAL_PG
    for user in dict.fromkeys(["postgres", os.environ.get("PGUSER", "postgres")]):
        try:
            psycopg.connect(
                host=host, port=port, user=user, dbname="postgres", connect_timeout=2
            ).close()
        except psycopg.Error:
            continue
        return f"postgres://{user}@{host}:{port}/identity"
    return None


def pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    key = lambda p: [int(n) for n in re.findall(r"\d+", p)]  # noqa: E731
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=key)
    return candidates[-1] if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def throwaway_cluster(tmp: Path, cleanups: list[Callable[[], None]]) -> str | None:
    """Start a private Postgres in tmp and return its URL; its stop goes into cleanups."""
    initdb, pg_ctl = pg_binary("initdb"), pg_binary("pg_ctl")
    if not (initdb and pg_ctl):
        return None
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            sys.exit("tests.run: running as root and there is no 'postgres' user for initdb.")
        os.chown(tmp, account.pw_uid, account.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = tmp / "pgdata", free_port()
    options = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -F"
    initdb_cmd = [initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
    subprocess.run([*prefix, *initdb_cmd, "--no-sync"], stdout=subprocess.DEVNULL, check=True)
    cleanups.append(
        lambda: subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    )
    log = str(tmp / "postgres.log")
    start = [pg_ctl, "-D", str(data), "-l", log, "-o", options, "-w", "start"]
    subprocess.run([*prefix, *start], stdout=subprocess.DEVNULL, check=True)
    return f"postgres://postgres@127.0.0.1:{port}/identity"


def redis_answers() -> bool:
    try:
        with socket.create_connection(LOCAL_REDIS, timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def choose_database(tmp: Path, cleanups: list[Callable[[], None]]) -> tuple[str, str]:
    """The database URL and a label saying where it came from."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], "from DATABASE_URL"
    url = local_postgres_url()
    if url:
        return url, "Postgres found on 127.0.0.1:5432"
    try:
        url = throwaway_cluster(tmp, cleanups)
    except subprocess.CalledProcessError as error:
        log = tmp / "postgres.log"
        say(f"throwaway Postgres failed ({error}):\n{log.read_text() if log.exists() else ''}")
    if url:
        return url, "throwaway Postgres cluster"
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        say("REQUIRE_POSTGRES=1 but no Postgres: set DATABASE_URL, or install Postgres.")
        sys.exit(2)
    print(SQLITE_WARNING, file=sys.stderr, flush=True)
    return f"sqlite:///{tmp / 'test.sqlite3'}", "SQLite fallback"


def run_pytest(args: list[str]) -> int:
    # Ctrl-C reaches pytest directly (same process group); we only wait and clean up.
    signal.signal(signal.SIGINT, lambda *_: None)
    child = subprocess.Popen([sys.executable, "-m", "pytest", *args])
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    return child.wait()


def main(args: list[str]) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="identity-tests-"))
    cleanups: list[Callable[[], None]] = []
    try:
        url, origin = choose_database(tmp, cleanups)
        if url.startswith("sqlite") and os.environ.get("REQUIRE_POSTGRES") == "1":
            say("REQUIRE_POSTGRES=1 but DATABASE_URL points at SQLite.")
            return 2
        os.environ["DATABASE_URL"] = url
        shown = re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)
        say(f"database: {shown} ({origin})")
        if "REDIS_URL" not in os.environ and redis_answers():
            os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/15"
        return run_pytest(args)
    finally:
        for cleanup in cleanups:
            cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
