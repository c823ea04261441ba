"""The load driver of `make bench`: wrk (Debian's package), one thread, a Lua script per case.

wrk is a C program with an event loop: on a 2-core machine it takes far less CPU away from
the server than a Python driver would, which matters because both share the same cores.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# Runs in wrk's Lua: one line of JSON with the totals and the latency percentiles (µs).
DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  local bad = e.connect + e.read + e.write + e.timeout + e.status
  io.write(string.format(
    '\\nBENCH {"requests": %d, "seconds": %f, "errors": %d, "status_errors": %d, '
    .. '"p50": %d, "p90": %d, "p99": %d, "max": %d, "rejected": %d, "completed": %d}\\n',
    summary.requests, summary.duration / 1e6, bad, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    total("rejected"), total("completed")))
end
"""
# Counts answers other than the expected status (a failed form login answers 200, not 4xx),
# and, for a script whose unit of work spans several requests, the units completed.
EXPECT = """
rejected = 0
completed = 0
local threads = {}
setup = function(thread) table.insert(threads, thread) end
total = function(name)
  local sum = 0
  for _, t in ipairs(threads) do sum = sum + (t:get(name) or 0) end
  return sum
end
"""
CHECK_STATUS = """
response = function(status, headers, body)
  if status ~= EXPECTED then rejected = rejected + 1 end
end
"""
# Refresh tokens rotate: every answer's new token goes back into the pool for the next request.
ROTATE = """
local pool = {}
for line in io.lines(TOKENS) do table.insert(pool, line) end
request = function()
  local token = table.remove(pool, 1) or "pool-exhausted"
  return wrk.format(nil, nil, nil, BODY_PREFIX .. token)
end
response = function(status, headers, body)
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then table.insert(pool, token) end
  if status ~= EXPECTED then rejected = rejected + 1 end
end
"""
# Single-use bodies (passkey assertions, each answering its own challenge): one line each,
# sent once; when they run out the request fails, so the pool must outlast the run.
ONCE = """
local pool = {}
for line in io.lines(BODIES) do table.insert(pool, line) end
local next_body = 1
request = function()
  local body = pool[next_body] or "{}"
  next_body = next_body + 1
  return wrk.format(nil, nil, nil, body)
end
response = function(status, headers, body)
  if status ~= EXPECTED then rejected = rejected + 1 end
end
"""


@dataclass
class Case:
    """One HTTP request shape, repeated by wrk."""

    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    expect: int = 200
    check_status: bool = False
    # For the refresh grant: a file of tokens, and the body before the token.
    tokens_file: str = ""
    body_prefix: str = ""
    # A file of whole bodies, each sent once (ONCE).
    bodies_file: str = ""
    # Lua of its own (request/response functions) for a unit of work that spans requests:
    # it counts ``rejected`` answers and ``completed`` units (bench.code_flow).
    script: str = ""


def _lua(case: Case) -> str:
    lines = [f"wrk.method = {json.dumps(case.method)}", f"EXPECTED = {case.expect}"]
    for name, value in case.headers.items():
        lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    if case.body:
        lines.append(f"wrk.body = {json.dumps(case.body)}")
    lines.append(EXPECT)
    if case.script:
        lines.append(case.script)
    elif case.tokens_file:
        lines.append(f"TOKENS = {json.dumps(case.tokens_file)}")
        lines.append(f"BODY_PREFIX = {json.dumps(case.body_prefix)}")
        lines.append(ROTATE)
    elif case.bodies_file:
        lines.append(f"BODIES = {json.dumps(case.bodies_file)}")
        lines.append(ONCE)
    elif case.check_status:
        lines.append(CHECK_STATUS)
    lines.append(DONE)
    return "\n".join(lines)


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run(base_url: str, case: Case, *, connections: int, seconds: float) -> dict[str, float]:
    """Drives ``case`` for ``seconds`` with ``connections`` open; returns rate and latencies."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(case))
    try:
        command = [
            wrk_path() or "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            script.name,
            base_url + case.path,
        ]
        started = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
        ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        os.unlink(script.name)
    line = next(row for row in out.splitlines() if row.startswith("BENCH "))
    data = json.loads(line.removeprefix("BENCH "))
    # A script with a response hook counts every unexpected status, 4xx and 5xx included, as
    # rejected; wrk counts those as status errors too: the same failure, counted once.
    failed = max(data["status_errors"], data["rejected"])
    ok = data["requests"] - failed
    return {
        "connections": connections,
        "rps": ok / data["seconds"],
        "ok": ok,
        "seconds": data["seconds"],
        "requests": data["requests"],
        "failed": failed,
        "errors": data["errors"],
        # Units of work a script completed (a flow of several requests); 0 for the others.
        "completed": data["completed"],
        **{k: data[k] / 1000 for k in ("p50", "p90", "p99", "max")},  # milliseconds
        # wrk's own user + system CPU: the share of the cores the load generator took.
        "load_cpu_s": round(
            ended.ru_utime + ended.ru_stime - started.ru_utime - started.ru_stime, 3
        ),
    }


def write_tokens(tokens: list[str]) -> str:
    path = Path(tempfile.mkstemp(prefix="bench-tokens-", suffix=".txt")[1])
    path.write_text("\n".join(tokens) + "\n")
    return str(path)
