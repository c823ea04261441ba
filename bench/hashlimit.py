"""The password-hash limit: Argon2id verifies per second on every core, with the portal's hasher.

    python -m bench.hashlimit CORES SECONDS   # prints JSON

One process per gunicorn worker (one per core) verifies a hash made by the portal's own
``Argon2idHasher`` in a loop, as the workers do at sign-in; the sum is the most logins per
second these cores could ever answer. The processes start together (a barrier) and each
counts only inside the same window, so that no process runs part of its window alone on an
idle machine (which would overstate the limit); one process per worker, never one process
running two windows in turn.

Each process then signs first-party tokens with the portal's own key and encoder
(``accounts.jwt.token_backend``, RS256) for a quarter of the window: an API login signs three
(access, refresh and id_token, #3's contract), so ``hash_ms / (hash_ms + 3 * sign_ms)`` is the
most of the hash limit an API login could reach if nothing else cost anything.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import time
from collections.abc import Callable

PASSWORD = "correct horse battery staple 42"  # noqa: S105 - the bench's test password
SIGNS_PER_API_LOGIN = 3


# Claims shaped like a login's access token (accounts.tokens), so the signed bytes match.
CLAIMS = {
    "token_type": "access",
    "exp": 2_000_000_000,
    "iat": 1_700_000_000,
    "jti": "0" * 32,
    "sub": "00000000-0000-0000-0000-000000000000",
    "sid": "00000000-0000-0000-0000-000000000000",
    "roles": [f"bench-role-{i}" for i in range(10)],
}


def _rate(call: Callable[[], object], seconds: float) -> tuple[int, float]:
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        call()
        count += 1
    return count, time.perf_counter() - started


def _verifies(
    seconds: float, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue
) -> None:
    from accounts.hashers import Argon2idHasher
    from accounts.jwt import token_backend

    hasher = Argon2idHasher()
    encoded = hasher.encode(PASSWORD, hasher.salt())
    hasher.verify(PASSWORD, encoded)
    token_backend.encode(CLAIMS)
    barrier.wait()
    verifies = _rate(lambda: hasher.verify(PASSWORD, encoded), seconds)
    barrier.wait()
    signs = _rate(lambda: token_backend.encode(CLAIMS), seconds / 4)
    out.put((verifies, signs))


def main(cores: int, seconds: float) -> dict[str, float]:
    barrier, out = multiprocessing.Barrier(cores), multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_verifies, args=(seconds, barrier, out))
        for _ in range(cores)
    ]
    for worker in workers:
        worker.start()
    runs = [out.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join()
    per_second = sum(count / elapsed for (count, elapsed), _ in runs)
    signs_per_second = sum(count / elapsed for _, (count, elapsed) in runs)
    ms_per_verify, ms_per_sign = 1000 * cores / per_second, 1000 * cores / signs_per_second
    return {
        "verifies_per_second": per_second,
        "processes": cores,
        "ms_per_verify": ms_per_verify,
        "rs256_signs_per_second": signs_per_second,
        "ms_per_rs256_sign": ms_per_sign,
        "api_login_ceiling": ms_per_verify / (ms_per_verify + SIGNS_PER_API_LOGIN * ms_per_sign),
    }


if __name__ == "__main__":
    import django

    django.setup()
    print(json.dumps(main(int(sys.argv[1]), float(sys.argv[2]))))
