"""A private Postgres cluster that a fault test may stop and start (never the shared server)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from tests.run import free_port, pg_binary


class Cluster:
    """initdb + pg_ctl in a temporary directory, listening on 127.0.0.1:<free port>."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = pg_binary("initdb"), pg_binary("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            pytest.skip("needs the Postgres server binaries (initdb, pg_ctl)")
        self.tmp = Path(tempfile.mkdtemp(prefix="identity-fault-pg-"))
        self.data, self.port = self.tmp / "pgdata", free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            account = pwd.getpwnam("postgres")
            os.chown(self.tmp, account.pw_uid, account.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]

    def url(self, dbname: str = "identity") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.prefix, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
        )

    def init(self) -> None:
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.tmp} -c listen_addresses=127.0.0.1 -F"
        log = str(self.tmp / "postgres.log")
        self._run(self.pg_ctl, "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        subprocess.run(
            [*self.prefix, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        shutil.rmtree(self.tmp, ignore_errors=True)

    def copy_database(self, source_url: str, dbname: str = "identity") -> str:
        """Creates ``dbname`` here as a copy of ``source_url`` (schema and seed rows): faster
        than running every migration again."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        pg_dump, psql = pg_binary("pg_dump"), pg_binary("psql")
        if not (pg_dump and psql):
            pytest.skip("needs pg_dump and psql")
        dump = subprocess.run(
            [pg_dump, "--no-owner", "--no-privileges", source_url],
            capture_output=True,
            check=True,
        )
        subprocess.run(
            [psql, "-q", "-v", "ON_ERROR_STOP=1", self.url(dbname)],
            input=dump.stdout,
            capture_output=True,
            check=True,
        )
        return self.url(dbname)
