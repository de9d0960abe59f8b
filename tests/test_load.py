"""Load: 10,000 loopback requests per client with the shim active, and nothing grows.

A child interpreter activates the shim with every proxy variable pointing at the
trap proxy, then sends REQUESTS_PER_CLIENT requests through one requests.Session
and one httpx.Client to a loopback origin. After WARM_UP_REQUESTS of each
client it records the open file descriptors (/proc/self/fd), the resident set
size (/proc/self/statm) and the number of objects the garbage collector tracks,
and again at the end.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from environments import REPO, proxy_environ

REQUESTS_PER_CLIENT = 10_000
WARM_UP_REQUESTS = 1_000
# Bounds on growth between the end of the warm-up and the end of the run.
MAX_FD_GROWTH = 0
MAX_RSS_GROWTH_BYTES = 8 * 1024 * 1024
MAX_GC_OBJECT_GROWTH = 2_000


class _FastOriginHandler(http.server.BaseHTTPRequestHandler):
    # One buffered write per response and TCP_NODELAY: the unbuffered handler of
    # servers.py sends headers and body as two segments, and Nagle's algorithm
    # then holds the body until the client's delayed ACK, about 40 ms each.
    protocol_version = "HTTP/1.1"
    wbufsize = -1
    disable_nagle_algorithm = True
    body = json.dumps({"via": "origin"}).encode()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


@pytest.fixture
def fast_origin() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FastOriginHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d/" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


CHILD = r"""
import gc, json, os, sys
sys.path.insert(0, sys.argv[1])
import loopback_shim
loopback_shim.activate()
import httpx, requests

origin, total, warm_up = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
# Three spellings of the same origin, so the predicate's cache sees several hosts.
port = origin.rsplit(":", 1)[1].strip("/")
urls = ["http://%s:%s/load" % (host, port) for host in ("127.0.0.1", "localhost", "127.1")]


def measure():
    gc.collect()
    with open("/proc/self/statm") as statm:
        rss_pages = int(statm.read().split()[1])
    return {
        "fds": len(os.listdir("/proc/self/fd")),
        "rss": rss_pages * os.sysconf("SC_PAGE_SIZE"),
        "gc_objects": len(gc.get_objects()),
    }


def run(name, get):
    answers = {}
    errors = []
    for number in range(total):
        if number == warm_up:
            before = measure()
        try:
            via = get(urls[number % len(urls)])
        except Exception as exc:
            via = "error"
            if len(errors) < 5:
                errors.append("%s: %s" % (type(exc).__name__, exc))
        answers[via] = answers.get(via, 0) + 1
    after = measure()
    return {"answers": answers, "errors": errors, "before": before, "after": after}


results = {}
with requests.Session() as session:
    results["requests"] = run("requests", lambda url: session.get(url, timeout=10).json()["via"])
with httpx.Client(timeout=10) as client:
    results["httpx"] = run("httpx", lambda url: client.get(url).json()["via"])
print(json.dumps(results))
"""


@pytest.mark.slow
def test_load_no_errors_no_growth(fast_origin, trap):
    trap.clear()
    command = [
        sys.executable,
        "-c",
        CHILD,
        str(REPO),
        fast_origin,
        str(REQUESTS_PER_CLIENT),
        str(WARM_UP_REQUESTS),
    ]
    env = proxy_environ(trap.url.rstrip("/"))
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout.strip().splitlines()[-1])

    # Shown with pytest -s: the measured figures behind the bounds.
    print(json.dumps(results))
    assert trap.requests == []
    for client in ("requests", "httpx"):
        result = results[client]
        assert result["errors"] == [], client
        assert result["answers"] == {"origin": REQUESTS_PER_CLIENT}, client
        before, after = result["before"], result["after"]
        assert after["fds"] - before["fds"] <= MAX_FD_GROWTH, (client, before, after)
        assert after["rss"] - before["rss"] <= MAX_RSS_GROWTH_BYTES, (client, before, after)
        growth = after["gc_objects"] - before["gc_objects"]
        assert growth <= MAX_GC_OBJECT_GROWTH, (client, before, after)
