"""Time the patched proxy decisions against the stock ones; run inside the shim venv.

``python child_decision.py REPEATS DISTINCT_HOSTS TRACED_HOSTS`` prints one JSON object. Every
patched function keeps the stock one as ``__wrapped__``, so both run in this one
process, in interleaved repeats. The environment sets proxy variables, so the stock
functions do their usual work (urllib's reads the proxy variables on every call).
"""

from __future__ import annotations

import gc
import itertools
import json
import random
import sys
import time
import timeit
import tracemalloc
import urllib.request
from collections.abc import Callable

import requests.utils

import loopback_shim
from loopback_shim import _loopback

# Target duration of one repeat of one case; the call count is calibrated to it.
REPEAT_SECONDS = 0.02
PROXIES = {"http": "http://127.0.0.1:9", "https": "http://127.0.0.1:9"}


def calibrated_timer(function: Callable[[], object]) -> tuple[timeit.Timer, int]:
    """Return a timer for ``function`` and the call count one repeat takes."""
    timer = timeit.Timer(function)
    number = 1
    while True:
        if timer.timeit(number) >= REPEAT_SECONDS or number >= 10**7:
            return timer, number
        number *= 2


def time_cases(cases: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Return the nanoseconds per call of each case, one sample per repeat.

    Each repeat runs every case once, in a shuffled order.
    """
    timers = {name: calibrated_timer(function) for name, function in cases.items()}
    samples: dict[str, list[float]] = {name: [] for name in cases}
    rng = random.Random(20261204)
    names = list(cases)
    for _ in range(repeats):
        rng.shuffle(names)
        for name in names:
            timer, number = timers[name]
            samples[name].append(timer.timeit(number) / number * 1e9)
    return samples


def decision_cases() -> dict[str, Callable[[], object]]:
    bypass = urllib.request.proxy_bypass
    stock_bypass = bypass.__wrapped__
    select = requests.utils.select_proxy
    stock_select = select.__wrapped__
    cases: dict[str, Callable[[], object]] = {}
    for host in ("127.0.0.1:8080", "localhost", "example.test"):
        cases["proxy_bypass shim " + host] = lambda host=host: bypass(host)
        cases["proxy_bypass stock " + host] = lambda host=host: stock_bypass(host)
    for url in ("http://127.0.0.1:8080/path", "http://example.test/path"):
        cases["select_proxy shim " + url] = lambda url=url: select(url, PROXIES)
        cases["select_proxy stock " + url] = lambda url=url: stock_select(url, PROXIES)
    # What requests passes when NO_PROXY already covers the host: no proxies at all.
    url = "http://127.0.0.1:8080/path"
    cases["select_proxy shim {} " + url] = lambda: select(url, {})
    cases["select_proxy stock {} " + url] = lambda: stock_select(url, {})
    for host in ("127.0.0.1", "localhost", "[::1]:8080", "example.test"):
        cases["is_loopback_host " + host] = lambda host=host: loopback_shim.is_loopback_host(host)
    return cases


def distinct_host_cases() -> dict[str, Callable[[], object]]:
    """Return cases that call the predicate with a host missing from its cache.

    The hosts cycle through 200,000 names or addresses, far more than the 4,096
    entries the predicate caches, so every call misses the cache.
    """
    count = 200_000
    names = itertools.cycle(["host%d.example.test" % index for index in range(count)])
    addresses = itertools.cycle(
        ["10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255) for i in range(count)]
    )
    is_loopback_host = loopback_shim.is_loopback_host
    return {
        "is_loopback_host distinct names": lambda: is_loopback_host(next(names)),
        "is_loopback_host distinct addresses": lambda: is_loopback_host(next(addresses)),
    }


def resident_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def memory_after_distinct_hosts(count: int, traced_count: int) -> dict[str, float]:
    """Pass distinct host names through the predicate and report memory.

    ``count`` names pass with the resident set size read before and after. Then
    ``traced_count`` further names pass under tracemalloc, which slows every
    allocation several times over.
    """
    is_loopback_host = loopback_shim.is_loopback_host
    gc.collect()
    rss_before = resident_kib()
    started = time.perf_counter()
    for index in range(count):
        is_loopback_host("host%d.example.test" % index)
    elapsed = time.perf_counter() - started
    gc.collect()
    rss_after = resident_kib()

    tracemalloc.start()
    traced_before, _ = tracemalloc.get_traced_memory()
    for index in range(count, count + traced_count):
        is_loopback_host("host%d.example.test" % index)
    gc.collect()
    traced_after, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    cache = _loopback._is_loopback_text.cache_info()
    return {
        "hosts": count,
        "seconds": elapsed,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "traced_hosts": traced_count,
        "traced_before_kib": traced_before / 1024,
        "traced_after_kib": traced_after / 1024,
        "traced_peak_kib": traced_peak / 1024,
        "cache_size": cache.currsize,
        "cache_max": cache.maxsize or 0,
    }


def main(argv: list[str]) -> None:
    repeats, distinct, traced = int(argv[0]), int(argv[1]), int(argv[2])
    if not getattr(urllib.request.proxy_bypass, "__loopback_shim__", False):
        raise SystemExit("the shim is not active in this interpreter: run it in the shim venv")
    cases = decision_cases()
    samples = time_cases(cases, repeats)
    samples.update(time_cases(distinct_host_cases(), repeats))
    result = {"samples": samples, "memory": memory_after_distinct_hosts(distinct, traced)}
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
