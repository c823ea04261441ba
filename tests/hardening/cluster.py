"""Portal nodes as production runs them (gunicorn, DJANGO_ENV=production) behind HAProxy.

tests/hardening/test_cluster.py drives this harness; ``python -m tests.hardening.cluster``
(``make cluster``) starts the same setup for anyone to try: its own database on the Postgres of
DATABASE_URL (or 127.0.0.1:5432), Redis DB /9 (CLUSTER_CACHE_URL), three nodes and HAProxy on
127.0.0.1:8080 (CLUSTER_PORT; its stats page on the next port), until Ctrl-C or SIGTERM.
Dockerfile and compose.yaml mirror it: the same start command, the same variables, the same
HAProxy template (tests/hardening/test_container_files_match_cluster.py keeps them in step).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parents[2]
# What every node runs, here and in the Dockerfile: gunicorn + identity.gunicorn_conf, whose
# worker count comes from WEB_CONCURRENCY.
GUNICORN_ARGS = ("-c", "python:identity.gunicorn_conf", "identity.wsgi")
HEALTH_PATH = "/readyz"
# The release order: the schema first (backwards-compatible migrations), then the key set, and
# only then nodes, one by one.
RELEASE_COMMANDS = (("migrate", "--noinput"), ("ensure_signing_key",))
# The task worker (event deliveries): beside the nodes, same image and environment, no port.
WORKER_COMMAND = ("manage.py", "db_worker")

# One template for the harness and compose.yaml. Health checks on /readyz every 500 ms: two
# failures take a node out, two successes bring it back. A connection refused by a dead node
# is retried on another (retries + redispatch); requests already sent to it are not (they may
# have written). The runtime socket lets an operator (or the harness) drain a node.
HAPROXY_TEMPLATE = """\
global
    maxconn 4096
    stats socket {socket} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout queue 30s
    retries 3
    option redispatch 1
    option forwardfor

frontend portal
    bind {bind}
    http-request set-header X-Forwarded-Proto https if {{ ssl_fc }}
    http-request set-header X-Forwarded-Proto http if !{{ ssl_fc }}
    # One id per request, in HAProxy's log and the node's (LOG_FORMAT=json keeps a sane one).
    unique-id-format %{{+X}}o%ci:%cp_%fi:%fp_%Ts_%rt:%pid
    http-request set-header X-Request-ID %[unique-id] unless {{ req.hdr(x-request-id) -m found }}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk
    http-check send meth GET uri {health} ver HTTP/1.1 hdr Host {host}
    http-check expect status 200
    default-server check inter 500ms fall 2 rise 2
{servers}

listen stats
    bind {stats_bind}
    stats enable
    stats uri /
    stats refresh 2s
"""


def gunicorn_command(bind: str) -> list[str]:
    """A node's start command: the Dockerfile's CMD with ``0.0.0.0:8000``."""
    return ["gunicorn", *GUNICORN_ARGS, "-b", bind]


def haproxy_config(
    *, bind: str, stats_bind: str, socket: str, host: str, servers: list[tuple[str, str]]
) -> str:
    lines = "\n".join(f"    server {name} {address}" for name, address in servers)
    return HAPROXY_TEMPLATE.format(
        bind=bind,
        stats_bind=stats_bind,
        socket=socket,
        host=host,
        health=HEALTH_PATH,
        servers=lines,
    )


def node_env(
    *, database_url: str, cache_url: str, portal_url: str, tmp: Path, workers: int = 1
) -> dict[str, str]:
    """The one environment every node gets: the same secrets and the same stores, or tokens,
    sessions and encrypted columns written on one node would not read on another. compose.yaml
    gives its portal services every one of these names; ``load_test_settings`` adds what only
    a load test on loopback wants."""
    return {
        "DJANGO_ENV": "production",
        "SECRET_KEY": os.urandom(32).hex(),
        "DATA_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PORTAL_URL": portal_url,
        "DATABASE_URL": database_url,
        "CACHE_URL": cache_url,
        "TRUSTED_PROXIES": "127.0.0.1",
        "STATIC_ROOT": str(tmp / "static"),
        "VAR_DIR": str(tmp / "var"),
        "WEB_CONCURRENCY": str(workers),
        # Plain HTTP on loopback; compose keeps both on (TLS ends at the load balancer).
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "EMAIL_URL": "dummymail://",
        "LOG_LEVEL": "WARNING",
        # One JSON line per request with HAProxy's X-Request-ID, as a log pipeline reads it.
        "LOG_FORMAT": "json",
    } | load_test_settings()


def load_test_settings() -> dict[str, str]:
    """Every client of a load test comes from one address and signs in at once after signing
    up: throttles lifted, no verification step, no new-device mail."""
    names = set(re.findall(r'"(API_THROTTLE_\w+)"', (ROOT / "identity/settings.py").read_text()))
    return {
        **dict.fromkeys(sorted(names), "100000000/s"),
        "ACCOUNT_EMAIL_VERIFICATION": "optional",
        "NEW_DEVICE_ALERTS": "false",
    }


def haproxy_binary() -> str | None:
    """Debian's haproxy, also when /usr/sbin is not on a user's PATH."""
    found = shutil.which("haproxy")
    return found or ("/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(
    ready: Callable[[], bool],
    *,
    name: str,
    process: subprocess.Popen[bytes],
    log: Path,
    timeout: float,
    errors: tuple[type[BaseException], ...],
    stalled: Callable[[], str],
) -> None:
    """Polls ``ready()`` (``errors`` count as not yet) until it holds; raises with the
    process's log if the process exits first, or with ``stalled()`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text()[-3000:]}")
        with contextlib.suppress(*errors):
            if ready():
                return
        time.sleep(0.2)
    raise RuntimeError(stalled())


@dataclass
class Node:
    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    """``count`` nodes and HAProxy on ``port``; a context manager that stops them all."""

    env: dict[str, str]
    tmp: Path
    count: int = 3
    port: int = field(default_factory=free_port)
    stats_port: int = field(default_factory=free_port)
    nodes: list[Node] = field(default_factory=list)
    haproxy: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def socket_path(self) -> Path:
        return self.tmp / "haproxy.sock"

    def __enter__(self) -> Cluster:
        try:
            self.release()
            self.manage("collectstatic", "--noinput", "-v0")  # the Dockerfile's build step
            for index in range(self.count):
                port = free_port()
                self.nodes.append(Node(f"node{index + 1}", port, self.tmp / f"node{index + 1}.log"))
            for node in self.nodes:
                self.start(node)
            self.start_haproxy()
            self.worker = subprocess.Popen(
                [sys.executable, *WORKER_COMMAND],
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=(self.tmp / "worker.log").open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the portal's own commands, with a node's environment ---------------------------

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed: {result.stderr[-3000:]}")
        return result.stdout

    def release(self) -> None:
        for command in RELEASE_COMMANDS:
            self.manage(*command)

    # --- nodes -------------------------------------------------------------------------

    def start(self, node: Node, *, timeout: float = 60) -> None:
        """Starts the node in its own process group (so a kill reaches its workers too) and
        waits until it answers /readyz."""
        node.process = subprocess.Popen(
            [sys.executable, "-m", *gunicorn_command(f"127.0.0.1:{node.port}")],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=node.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_until(
            lambda: httpx.get(node.url + HEALTH_PATH, timeout=2).status_code == 200,
            name=node.name,
            process=node.process,
            log=node.log,
            timeout=timeout,
            errors=(httpx.HTTPError,),
            stalled=lambda: f"{node.name} did not become ready: {node.log.read_text()[-3000:]}",
        )

    def kill(self, node: Node) -> None:
        """kill -9 of the master and every worker at once: a host that lost power."""
        assert node.process is not None
        os.killpg(node.process.pid, signal.SIGKILL)
        node.process.wait(timeout=30)

    def stop(self, node: Node, *, timeout: float = 60) -> int:
        """SIGTERM: gunicorn finishes the requests in hand, then exits. The exit status."""
        assert node.process is not None
        node.process.terminate()
        return node.process.wait(timeout=timeout)

    # --- HAProxy -------------------------------------------------------------------------

    def start_haproxy(self, *, timeout: float = 30) -> None:
        config = self.tmp / "haproxy.cfg"
        config.write_text(
            haproxy_config(
                bind=f"127.0.0.1:{self.port}",
                stats_bind=f"127.0.0.1:{self.stats_port}",
                socket=str(self.socket_path),
                host="127.0.0.1",
                servers=[(node.name, f"127.0.0.1:{node.port}") for node in self.nodes],
            )
        )
        binary = haproxy_binary()
        if binary is None:
            raise RuntimeError("haproxy is not installed (`make cluster` installs it)")
        log = self.tmp / "haproxy.log"
        self.haproxy = subprocess.Popen(
            [binary, "-db", "-f", str(config)],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_until(
            lambda: all(s["status"] == "UP" for s in self.servers().values()),
            name="haproxy",
            process=self.haproxy,
            log=log,
            timeout=timeout,
            errors=(OSError,),
            stalled=lambda: f"haproxy did not see every node UP: {self.servers()}",
        )

    def runtime(self, command: str) -> str:
        """One command on HAProxy's runtime API (the stats socket), as `socat` would send it."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket_path))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers(self) -> dict[str, dict[str, str]]:
        """The backend's servers from `show stat`: status (UP, DOWN, DRAIN, MAINT...), scur
        (sessions on it now), ..."""
        text = self.runtime("show stat").lstrip("# ")
        rows = csv.DictReader(line for line in text.splitlines() if line)
        return {
            row["svname"]: row
            for row in rows
            if row["pxname"] == "nodes" and row["svname"] not in {"FRONTEND", "BACKEND"}
        }

    def wait_server(self, name: str, status: str, *, timeout: float = 30) -> float:
        """Waits until HAProxy reports the node in ``status``; the seconds it took."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.servers()[name]["status"].startswith(status):
                return time.monotonic() - start
            time.sleep(0.05)
        raise AssertionError(f"{name} not {status} after {timeout}s: {self.servers()[name]}")

    def drain(self, node: Node, *, timeout: float = 60) -> None:
        """What an operator does before stopping a node: no new requests, then wait until
        the ones it holds are answered."""
        self.runtime(f"set server nodes/{node.name} state drain")
        deadline = time.monotonic() + timeout
        while int(self.servers()[node.name]["scur"] or 0) > 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"{node.name} still busy after {timeout}s")
            time.sleep(0.05)

    def ready(self, node: Node) -> None:
        self.runtime(f"set server nodes/{node.name} state ready")
        self.wait_server(node.name, "UP")

    def close(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.terminate()  # SIGTERM: the worker finishes its current try first
            try:
                self.worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait(timeout=10)
        if self.haproxy is not None and self.haproxy.poll() is None:
            self.haproxy.terminate()
            self.haproxy.wait(timeout=10)
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(node.process.pid, signal.SIGKILL)
                node.process.wait(timeout=10)


# --- make cluster ----------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(server_url: str, name: str) -> Iterator[str]:
    """An empty database ``name`` on the Postgres of ``server_url``, dropped afterwards."""
    import psycopg

    base = server_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    import psycopg
    import redis

    port = int(os.environ.get("CLUSTER_PORT", "8080"))
    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    cache_url = os.environ.get("CLUSTER_CACHE_URL", "redis://127.0.0.1:6379/9")
    try:
        redis.Redis.from_url(cache_url, socket_connect_timeout=2).flushdb()
    except redis.RedisError as error:
        print(f"make cluster needs Redis at {cache_url} (CLUSTER_CACHE_URL): {error}")
        return 1
    if haproxy_binary() is None:
        print("make cluster needs haproxy (Debian: apt-get install haproxy)")
        return 1
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        return _serve(server, cache_url, port)
    except psycopg.OperationalError as error:
        print(f"make cluster needs Postgres at {_shown(server)} (DATABASE_URL): {error}")
        return 1


def _serve(server: str, cache_url: str, port: int) -> int:
    with (
        fresh_database(server, "identity_cluster_demo") as database_url,
        tempfile.TemporaryDirectory(prefix="identity-cluster-") as tmp,
    ):
        env = node_env(
            database_url=database_url,
            cache_url=cache_url,
            portal_url=f"http://127.0.0.1:{port}",
            tmp=Path(tmp),
        )
        print(f"migrating {_shown(database_url)}, starting 3 nodes and HAProxy...", flush=True)
        try:
            with Cluster(env, Path(tmp), port=port, stats_port=port + 1) as cluster:
                _welcome(cluster, env)
                while True:
                    time.sleep(3600)
        except KeyboardInterrupt:
            print("\nstopped HAProxy and every node; dropping the database", flush=True)
    return 0


def _shown(url: str) -> str:
    """A URL fit for the terminal: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _welcome(cluster: Cluster, env: dict[str, str]) -> None:
    """Where everything is. The nodes' secrets go to a file only its owner reads, never to
    the terminal."""
    env_file = cluster.tmp / "node.env"
    env_file.touch(mode=0o600)
    env_file.write_text("".join(f"{name}={value}\n" for name, value in env.items()))
    nodes = "\n".join(f"    {node.name}: {node.url}" for node in cluster.nodes)
    print(
        f"\nThe portal, through HAProxy: {cluster.url}/\n"
        f"HAProxy's stats page:        http://127.0.0.1:{cluster.stats_port}/\n"
        f"HAProxy's runtime API:       {cluster.socket_path}\n"
        f"  (e.g. echo 'set server nodes/node1 state drain' | socat stdio {cluster.socket_path})\n"
        f"The nodes, directly:\n{nodes}\n"
        f"Postgres: {_shown(env['DATABASE_URL'])}   Redis: {_shown(env['CACHE_URL'])}\n"
        f"Every node's environment: {env_file}\n\n"
        "To create an admin account, run in another terminal:\n"
        f"    (set -a; . {env_file}; {sys.executable} manage.py createsuperuser)\n\n"
        "Ctrl-C stops HAProxy and the nodes and drops the database.",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
