"""The password-hash limit: Argon2id verifies per second on every core, with the portal's hasher.

    python -m bench.hashlimit CORES SECONDS   # prints JSON

One process per core verifies the same hash in a loop, as the gunicorn workers would; the sum
is the most logins per second these cores could ever answer.
"""

from __future__ import annotations

import json
import sys
import time
from multiprocessing import Pool

PASSWORD = "correct horse battery staple 42"  # noqa: S105 - the bench's test password


def _verifies(seconds: float) -> tuple[int, float]:
    from accounts.hashers import Argon2idHasher

    hasher = Argon2idHasher()
    encoded = hasher.encode(PASSWORD, hasher.salt())
    hasher.verify(PASSWORD, encoded)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        hasher.verify(PASSWORD, encoded)
        count += 1
    return count, time.perf_counter() - started


def main(cores: int, seconds: float) -> dict[str, float]:
    with Pool(cores) as pool:
        runs = pool.map(_verifies, [seconds] * cores)
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
