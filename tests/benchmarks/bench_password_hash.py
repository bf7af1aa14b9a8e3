"""Benchmark (not a test): the invigilator password hash (scrypt, r=8, p=1) at the candidate costs.

Run: .venv/bin/python tests/benchmarks/bench_password_hash.py

Prints, for each N, the time of one hash (median of several) and what an online guesser gains:
nothing, since each guess is a login the service answers; an offline guesser with the hash (a
leaked event) faces the password's own entropy (6 characters drawn from ~60 symbols, ≈ 2^35) times N.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shared.password_hash import hash_password, verify_password

COSTS = (2**10, 2**11, 2**12, 2**13, 2**14)
ROUNDS = 9


def main() -> None:
    for n in COSTS:
        times = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            encoded = hash_password("C-kjHv!7", n=n)
            times.append(time.perf_counter() - started)
        assert verify_password("C-kjHv!7", encoded)
        one = statistics.median(times)
        print(
            f"scrypt n=2^{n.bit_length() - 1} ({n:>5}): {one * 1000:6.2f} ms a hash, {1 / one:5.0f} hashes/s a core,"
            f" 100 sessions {one * 100:5.2f} s, 10,000 sessions {one * 10_000:6.1f} CPU-s"
        )


if __name__ == "__main__":
    main()
