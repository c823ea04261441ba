"""The passkey sign-in figure of `make bench`: a software authenticator over real HTTP.

A passkey sign-in is two requests: options (a challenge) and the signed answer. wrk cannot
sign, so each round first asks the server for challenges and signs them here (an ES256 key of
bench.webauthn_soft), then wrk sends each answer once. The two requests are timed apart (the
options with a static body, the answers from the pool) and combined: one sign-in costs
1/options_rate + 1/answer_rate seconds of the server.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench import load
from bench.webauthn_soft import SoftAuthenticator

OPTIONS_PATH = "/api/v1/auth/passkey/options/"
SIGN_IN_PATH = "/api/v1/auth/passkey/"


def enrol(url: str, origin: str, access_token: str) -> SoftAuthenticator:
    """Registers a synced passkey (sign count 0, as phone and password-manager passkeys keep:
    any answer may go first) for the signed-in user, through the self-service API."""
    authenticator = SoftAuthenticator(origin=origin, synced=True, counter=False)
    headers = {"Authorization": f"Bearer {access_token}"}
    options = httpx.post(f"{url}/api/v1/me/passkeys/options/", headers=headers, timeout=30)
    options.raise_for_status()
    created = httpx.post(
        f"{url}/api/v1/me/passkeys/",
        headers=headers,
        json={"name": "bench", "credential": authenticator.create(options.json())},
        timeout=30,
    )
    created.raise_for_status()
    return authenticator


def options_case() -> load.Case:
    return load.Case(
        OPTIONS_PATH, method="POST", headers={"Content-Type": "application/json"}, body="{}"
    )


def answers_case(url: str, authenticator: SoftAuthenticator, count: int) -> load.Case:
    """``count`` fresh answers (challenges asked now, signed here), each for one request."""
    with httpx.Client(base_url=url, timeout=30) as client, ThreadPoolExecutor(4) as pool:
        bodies = list(pool.map(lambda _: _answer(client, authenticator), range(count)))
    return load.Case(
        SIGN_IN_PATH,
        method="POST",
        headers={"Content-Type": "application/json"},
        bodies_file=load.write_tokens(bodies),
    )


def _answer(client: httpx.Client, authenticator: SoftAuthenticator) -> str:
    options = client.post(OPTIONS_PATH, json={})
    options.raise_for_status()
    return json.dumps({"credential": authenticator.get(options.json())}, separators=(",", ":"))


def pool_size(options_rps: float, seconds: float) -> int:
    """Answers enough for the run: verifying costs more than issuing, so the options rate
    bounds the answer rate; a margin for noise."""
    return math.ceil(options_rps * max(1.0, round(seconds)) * 1.3) + 50


def sign_ins_per_second(options_rps: float, answers_rps: float) -> float:
    if not options_rps or not answers_rps:
        return 0.0
    return 1 / (1 / options_rps + 1 / answers_rps)


def per_core(run: dict) -> float:
    """Answered requests per second of the portal workers' CPU (0 without the CPU meter)."""
    worker = run.get("worker_cpu_s")
    return run["ok"] / worker if worker else 0.0
