"""The password-hash limit: Argon2id verifies per second on every core, with the portal's hasher.

    python -m bench.hashlimit CORES SECONDS   # prints JSON

One process per gunicorn worker (one per core) verifies a hash made by the portal's own
``Argon2idHasher`` in a loop, as the workers do at sign-in; the sum is the most logins per
second these cores could ever answer. The processes start together (a barrier) and each
counts only inside the same window, so that no process runs part of its window alone on an
idle machine (which would overstate the limit); one process per worker, never one process
running two windows in turn.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import time

PASSWORD = "correct horse battery staple 42"  # noqa: S105 - the bench's test password


def _verifies(
    seconds: float, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue
) -> None:
    from accounts.hashers import Argon2idHasher

    hasher = Argon2idHasher()
    encoded = hasher.encode(PASSWORD, hasher.salt())
    hasher.verify(PASSWORD, encoded)
    barrier.wait()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        hasher.verify(PASSWORD, encoded)
        count += 1
    out.put((count, time.perf_counter() - started))


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
    per_second = sum(count / elapsed for count, elapsed in runs)
    return {
        "verifies_per_second": per_second,
        "processes": cores,
        "ms_per_verify": 1000 * cores / per_second,
    }


if __name__ == "__main__":
    import django

    django.setup()
    print(json.dumps(main(int(sys.argv[1]), float(sys.argv[2]))))
