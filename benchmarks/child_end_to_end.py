"""Make timed requests with real clients; run inside a benchmark venv.

    python child_end_to_end.py overhead CLIENT URL BLOCKS BLOCK_SIZE
    python child_end_to_end.py outcome CLIENT URL TIMEOUT TRIES

``overhead`` runs in the shim venv and alternates blocks of BLOCK_SIZE requests with
the shim active and with it deactivated (every patch undone, which is the stock
code), and prints, for every block, the median seconds per request and this
process's CPU seconds per request. ``outcome`` makes
TRIES requests, each with a new client, and prints for each whether it succeeded
and how long it took. Both print one JSON line. Proxies come from the environment,
and clients are built before the timer starts.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
import urllib.request
from typing import Any

TIMEOUT_SECONDS = 10.0


class Client:
    """One client, opened before the timer starts: what a program builds once."""

    def __init__(self, name: str, timeout: float) -> None:
        self.name = name
        self.timeout = timeout
        self.session: Any = None
        self.requests_get: Any = None
        if name == "requests.Session":
            import requests

            self.session = requests.Session()
        elif name == "httpx.Client":
            import httpx

            self.session = httpx.Client(timeout=timeout)
        elif name == "requests.get":
            import requests

            self.requests_get = requests.get
        elif name != "urlopen":
            raise SystemExit("unknown client %r: expected one of %s" % (name, ", ".join(CLIENTS)))

    def get(self, url: str) -> None:
        if self.name == "requests.get":
            self.requests_get(url, timeout=self.timeout).raise_for_status()
        elif self.name == "requests.Session":
            self.session.get(url, timeout=self.timeout).raise_for_status()
        elif self.name == "httpx.Client":
            self.session.get(url).raise_for_status()
        else:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                response.read()

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


CLIENTS = ["requests.get", "requests.Session", "httpx.Client", "urlopen"]
WARMUP_REQUESTS = 2


def measure_overhead(client: str, url: str, blocks: int, block_size: int) -> dict[str, list[float]]:
    """Return per block, with the shim and without, the median seconds per request
    ("shim", "stock") and the CPU seconds per request ("shim cpu", "stock cpu")."""
    import loopback_shim

    loopback_shim.activate()
    if not getattr(urllib.request.proxy_bypass, "__loopback_shim__", False):
        raise SystemExit("the shim is not active in this interpreter: run it in the shim venv")

    def timed_block(active: bool) -> tuple[float, float]:
        if not active:
            loopback_shim.deactivate()
        session = Client(client, TIMEOUT_SECONDS)
        try:
            for _ in range(WARMUP_REQUESTS):
                session.get(url)
            durations = []
            cpu_start = time.process_time()
            for _ in range(block_size):
                start = time.perf_counter()
                session.get(url)
                durations.append(time.perf_counter() - start)
            cpu = (time.process_time() - cpu_start) / block_size
            return statistics.median(durations), cpu
        finally:
            session.close()
            if not active:
                loopback_shim.activate()

    seconds: dict[str, list[float]] = {"shim": [], "stock": [], "shim cpu": [], "stock cpu": []}
    rng = random.Random(20261204)
    for _ in range(blocks):
        order = [True, False]
        rng.shuffle(order)
        for active in order:
            key = "shim" if active else "stock"
            wall, cpu = timed_block(active)
            seconds[key].append(wall)
            seconds[key + " cpu"].append(cpu)
    return seconds


def measure_outcome(client: str, url: str, timeout: float, tries: int) -> list[dict[str, object]]:
    """Make ``tries`` requests, each with a new client, and time each request."""
    outcomes: list[dict[str, object]] = []
    for _ in range(tries):
        session = Client(client, timeout)
        start = time.perf_counter()
        try:
            session.get(url)
            outcome = "ok"
        except Exception as exc:
            outcome = type(exc).__name__
        outcomes.append({"outcome": outcome, "seconds": time.perf_counter() - start})
        session.close()
    return outcomes


def main(argv: list[str]) -> None:
    mode, client, url = argv[:3]
    if mode == "overhead":
        result: object = measure_overhead(client, url, int(argv[3]), int(argv[4]))
    elif mode == "outcome":
        result = measure_outcome(client, url, float(argv[3]), int(argv[4]))
    else:
        raise SystemExit("unknown mode %r: expected overhead or outcome" % mode)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
