"""Concurrency: activation in one thread while 31 others import the targets and send requests.

The child interpreter has no .pth of the shim (the test runner's own Python), so
nothing is active until a thread calls ``loopback_shim.activate()``. Every proxy
variable points at the trap proxy. Each worker imports its client's target
module, waits for activation to return, then sends its requests to a loopback
origin: all of them must reach the origin, none the trap, each target must be
patched exactly once, and every thread must finish within the timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from environments import REPO, proxy_environ

WORKERS = 31
REQUESTS_PER_WORKER = 10
JOIN_TIMEOUT_SECONDS = 60

CHILD = r"""
import collections, importlib, json, sys, threading, time
sys.path.insert(0, sys.argv[1])
import loopback_shim

origin, start_mode, workers, per_worker, join_timeout = (
    sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
CLIENTS = ["urllib.request", "requests", "urllib3", "httpx", "aiohttp"]
activated = threading.Event()
answers = collections.Counter()
errors = []
lock = threading.Lock()


def activator():
    if start_mode == "mid-import":
        # Activate while some target is still executing in another thread.
        deadline = time.monotonic() + 10
        while not any(name in sys.modules for name in ("requests", "httpx", "aiohttp")):
            if time.monotonic() > deadline:
                break
            time.sleep(0.0005)
    loopback_shim.activate()
    activated.set()


def fetch_all(target, urls):
    # One client per worker, reused for its requests, as programs do.
    if target == "urllib.request":
        import urllib.request
        answers = []
        for url in urls:
            with urllib.request.urlopen(url, timeout=10) as response:
                answers.append(json.loads(response.read())["via"])
        return answers
    if target == "requests":
        import requests
        with requests.Session() as session:
            return [session.get(url, timeout=10).json()["via"] for url in urls]
    if target == "urllib3":
        import urllib3
        with urllib3.ProxyManager(PROXY) as manager:
            return [json.loads(manager.request("GET", url, timeout=10, retries=False).data)["via"]
                    for url in urls]
    if target == "httpx":
        import httpx
        with httpx.Client(timeout=10) as client:
            return [client.get(url).json()["via"] for url in urls]
    import asyncio, aiohttp

    async def get_all():
        async with aiohttp.ClientSession(trust_env=True) as session:
            answers = []
            for url in urls:
                async with session.get(url) as response:
                    answers.append((await response.json())["via"])
            return answers

    return asyncio.run(get_all())


def worker(index):
    target = CLIENTS[index % len(CLIENTS)]
    importlib.import_module(target)
    if not activated.wait(join_timeout):
        with lock:
            errors.append("activation did not finish")
        return
    urls = ["%s%s/%d/%d" % (origin, target, index, number) for number in range(per_worker)]
    try:
        vias = fetch_all(target, urls)
    except Exception as exc:
        vias = ["error"] * per_worker
        with lock:
            errors.append("%s: %s: %s" % (target, type(exc).__name__, exc))
    with lock:
        answers.update(vias)


import os
PROXY = os.environ["http_proxy"]
threads = [threading.Thread(target=activator, daemon=True)]
threads += [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(workers)]
for thread in threads:
    thread.start()
deadline = time.monotonic() + join_timeout
for thread in threads:
    thread.join(max(0.0, deadline - time.monotonic()))

from loopback_shim import _patching
patches = _patching.applied_patches()
references = collections.Counter((id(patch.owner), patch.name) for patch in patches)
print(json.dumps({
    "alive": sum(thread.is_alive() for thread in threads),
    "answers": dict(answers),
    "errors": errors[:10],
    "targets": sorted(_patching._applied_targets),
    "duplicate_references": sum(count > 1 for count in references.values()),
    "wrapped_wrappers": sum(
        bool(getattr(getattr(patch.replacement, "__wrapped__", None), "__loopback_shim__", False))
        for patch in patches),
    "finders": sum(bool(getattr(f, "loopback_shim_marker", False)) for f in sys.meta_path),
}))
"""


@pytest.mark.parametrize("start_mode", ["mid-import", "at-start"])
def test_activation_during_imports(start_mode, origins, trap):
    trap.clear()
    env = proxy_environ(trap.url.rstrip("/"))
    command = [
        sys.executable,
        "-c",
        CHILD,
        str(REPO),
        origins[0].url,
        start_mode,
        str(WORKERS),
        str(REQUESTS_PER_WORKER),
        str(JOIN_TIMEOUT_SECONDS),
    ]
    completed = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=JOIN_TIMEOUT_SECONDS + 60
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])

    assert report["alive"] == 0
    assert report["errors"] == []
    assert report["answers"] == {"origin": WORKERS * REQUESTS_PER_WORKER}
    assert trap.requests == []
    assert report["targets"] == ["aiohttp", "httpx", "requests", "urllib.request", "urllib3"]
    assert report["duplicate_references"] == 0
    assert report["wrapped_wrappers"] == 0
    assert report["finders"] == 1


FIND_SPEC_PROBE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import _loopback_shim_boot
_loopback_shim_boot.activate()
(finder,) = [f for f in sys.meta_path if getattr(f, "loopback_shim_marker", False)]
before = set(sys.modules)
spec = finder.find_spec("requests")
print(json.dumps({
    "found": spec is not None,
    "wrapped": type(spec.loader).__name__,
    "imported": sorted(set(sys.modules) - before),
}))
"""


def test_find_spec_imports_nothing(stock_env):
    # importlib calls every finder's find_spec with its global import lock held
    # (CPython 3.9 to 3.13). An import there waits for any thread that is importing
    # the same shim module, and that thread waits for the global lock: a deadlock.
    # The shim's package may load only once the target has executed.
    probe = stock_env.run_json(["-c", FIND_SPEC_PROBE, str(REPO)], env=proxy_environ("http://127.0.0.1:9"))
    assert probe["found"] is True
    assert probe["wrapped"] == "PatchingLoader"
    assert probe["imported"] == []
