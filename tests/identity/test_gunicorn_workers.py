"""gunicorn's worker count in production: WEB_CONCURRENCY, else one worker per available CPU."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from identity.gunicorn_conf import worker_count
from tests.processes import _free_port, gunicorn_command, wait_ready


def _children(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def _gunicorn(tmp_path: Path, **env: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    port, log = _free_port(), tmp_path / "gunicorn.log"
    inherited = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}
    process = subprocess.Popen(
        gunicorn_command(port),  # no -w: the config decides
        env={**inherited, "DJANGO_ENV": "test", **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}", log


CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="counts workers in /proc")
@pytest.mark.parametrize(
    ("env", "expected"),
    [({"WEB_CONCURRENCY": "3"}, 3), ({}, CPUS)],
    ids=["web-concurrency", "one-per-cpu"],
)
def test_gunicorn_started_without_w_runs_the_configured_worker_count(
    tmp_path: Path, env: dict[str, str], expected: int
) -> None:
    process, url, log = _gunicorn(tmp_path, **env)
    try:
        wait_ready(url, process, log)
        deadline = time.monotonic() + 20
        while len(_children(process.pid)) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # one worker too many would show by now
        assert len(_children(process.pid)) == expected
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_gunicorn_refuses_to_start_on_a_web_concurrency_that_is_not_a_positive_integer(
    tmp_path: Path,
) -> None:
    process, _, log = _gunicorn(tmp_path, WEB_CONCURRENCY="0")
    try:
        assert process.wait(timeout=30) != 0
    finally:
        if process.poll() is None:
            process.kill()
    assert "WEB_CONCURRENCY must be a positive integer, not '0'" in log.read_text()


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", "²"])
def test_worker_count_rejects_anything_but_a_positive_integer(value: str) -> None:
    with pytest.raises(ValueError, match="WEB_CONCURRENCY must be a positive integer"):
        worker_count({"WEB_CONCURRENCY": value})


def test_worker_count_defaults_to_the_cpus_this_process_may_use() -> None:
    assert worker_count({}) == CPUS
    assert worker_count({"WEB_CONCURRENCY": " "}) == CPUS
    assert worker_count({"WEB_CONCURRENCY": "5"}) == 5
