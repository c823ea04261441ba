"""gunicorn settings for production: ``gunicorn -c python:identity.gunicorn_conf identity.wsgi``.

The access log (off unless ``--access-logfile`` or ``accesslog`` is set) would print every
request line raw: emailed link tokens in paths (/accounts/password-reset/<token>/), OAuth
``code``, ``id_token_hint`` and ``token`` parameters in query strings, Referer headers that carry
the same URLs, and redirect Locations. The logger below applies identity.logfilters' redaction to
every field an access-log format can print (ASVS V7.1.1), so no format setting can leak them.

``workers`` comes from ``WEB_CONCURRENCY`` (a positive integer) or else is the number of CPUs
this process may run on. Sign-ins are CPU-bound on Argon2id: one sync worker per core already
keeps every core busy; more workers only add queueing and memory, fewer leave cores idle.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

from identity.logfilters import JSON_FIELDS, JSON_RENAMES, RedactingJsonFormatter, redact

# Whole header values that are credentials, whatever their shape.
_CREDENTIAL_ATOMS = ("{authorization}i", "{cookie}i", "{set-cookie}o", "{proxy-authorization}i")
REDACTED = "[redacted]"


class RedactingLogger(Logger):
    """gunicorn's logger, with link tokens and OAuth secrets removed from access-log fields."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if os.environ.get("LOG_FORMAT") == "json":
            # gunicorn's own lines (worker boots, timeouts, the access log) as JSON too, so
            # that every line of the output parses as the portal's do.
            formatter = RedactingJsonFormatter(JSON_FIELDS, rename_fields=JSON_RENAMES)
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(formatter)

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: timedelta) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if isinstance(value, str):
                atoms[key] = redact(value)
        for key in _CREDENTIAL_ATOMS:
            if key in atoms:
                atoms[key] = REDACTED
        return atoms


logger_class = RedactingLogger


def worker_count(environ: Mapping[str, str] = os.environ) -> int:
    """WEB_CONCURRENCY when set, else the CPUs available to this process (its affinity mask,
    which a container's cpuset narrows; os.cpu_count() where the platform has no mask)."""
    raw = environ.get("WEB_CONCURRENCY", "").strip()
    if not raw:
        available = getattr(os, "sched_getaffinity", None)
        return len(available(0)) if available else os.cpu_count() or 1
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ValueError(f"WEB_CONCURRENCY must be a positive integer, not {raw!r}")
    return int(raw)


workers = worker_count()

# -- Prometheus multiprocess mode (identity/metrics.py) ---------------------------------------
# Each worker keeps its metric values in files under PROMETHEUS_MULTIPROC_DIR and /metrics adds
# them up. The master names the directory before any worker starts (a new temporary one when
# it is not given) and clears what a previous run left in it: stale files would be added in.


_made_metrics_dir: list[str] = []


def on_starting(server: Any) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = tempfile.mkdtemp(prefix="identity-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        _made_metrics_dir.append(directory)
    os.makedirs(directory, exist_ok=True)
    for stale in glob.glob(os.path.join(directory, "*.db")):
        os.remove(stale)


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    for directory in _made_metrics_dir:
        shutil.rmtree(directory, ignore_errors=True)
