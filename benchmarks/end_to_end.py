"""Section 4: requests to a loopback server, with the shim and without.

Two measurements. The overhead: the time per request with the shim active against
the stock code, in a configuration where the stock client already goes direct
because NO_PROXY covers the server. The outcome: what a loopback request does when
the proxy variables point at a dead proxy (a closed port) or at a slow one (a
listener that never responds), in the stock venv and in the shim venv.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from harness import (
    format_ratio_ci,
    load_average,
    log,
    markdown_table,
    median_with_ci,
    paired_ratios,
    process_output,
)
from venvs import BENCHMARKS, Venv, Workspace, proxy_environ

CLIENTS = ["requests.get", "requests.Session", "httpx.Client", "urlopen"]
BLOCKS, BLOCK_SIZE = 30, 50
QUICK_BLOCKS, QUICK_BLOCK_SIZE = 4, 20
OUTCOME_TIMEOUT_SECONDS = 1.0
OUTCOME_TRIES, QUICK_OUTCOME_TRIES = 3, 1
OVERHEAD_BUDGET = 0.01
CHILD = str(BENCHMARKS / "child_end_to_end.py")


@contextmanager
def loopback_servers() -> Iterator[dict[str, int]]:
    """Start the origin and the slow proxy in a child process; yield their ports."""
    server = subprocess.Popen(
        [sys.executable, str(BENCHMARKS / "loopback_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        yield json.loads(server.stdout.readline())
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)


def closed_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def overhead_rows(venv: Venv, url: str, dead_proxy: str, quick: bool) -> list[list[object]]:
    blocks, block_size = (QUICK_BLOCKS, QUICK_BLOCK_SIZE) if quick else (BLOCKS, BLOCK_SIZE)
    # The user's own NO_PROXY makes the stock client go direct. A request that went
    # to the proxy instead would fail, because nothing listens there.
    env = proxy_environ(dead_proxy, NO_PROXY="127.0.0.1,localhost")
    rows = []
    for client in CLIENTS:
        argv = [venv.python, CHILD, "overhead", client, url, str(blocks), str(block_size)]
        samples = json.loads(process_output(argv, env).splitlines()[-1])
        ratios = paired_ratios(samples, "shim", "stock")
        within = median_with_ci(ratios)[0] - 1 <= OVERHEAD_BUDGET
        rows.append([
            client,
            "%.3f" % (statistics.median(samples["stock"]) * 1e3),
            "%.3f" % (statistics.median(samples["shim"]) * 1e3),
            format_ratio_ci(ratios),
            format_ratio_ci(paired_ratios(samples, "shim cpu", "stock cpu")),
            "yes" if within else "**no**",
        ])
    return rows


def describe_outcomes(outcomes: list[dict[str, object]]) -> str:
    seconds = statistics.median(float(str(item["seconds"])) for item in outcomes)
    kinds = sorted({str(item["outcome"]) for item in outcomes})
    if kinds == ["ok"]:
        return "succeeds in %.1f ms" % (seconds * 1e3)
    return "fails after %.1f ms: %s" % (seconds * 1e3, ", ".join(kinds))


def outcome_rows(
    stock: Venv, shim: Venv, url: str, proxies: dict[str, str], quick: bool
) -> list[list[object]]:
    tries = QUICK_OUTCOME_TRIES if quick else OUTCOME_TRIES
    rows = []
    for label, proxy_url in proxies.items():
        env = proxy_environ(proxy_url)
        for client in CLIENTS:
            cells: list[object] = [client, label]
            for venv in (stock, shim):
                argv = [venv.python, CHILD, "outcome", client, url]
                argv += [str(OUTCOME_TIMEOUT_SECONDS), str(tries)]
                outcomes = json.loads(process_output(argv, env).splitlines()[-1])
                cells.append(describe_outcomes(outcomes))
            rows.append(cells)
    return rows


def run(workspace: Workspace, quick: bool) -> str:
    stock = workspace.stock_clients()
    shim = workspace.shim_clients()
    dead_proxy = "http://127.0.0.1:%d" % closed_port()
    with loopback_servers() as ports:
        url = "http://127.0.0.1:%d/json" % ports["origin"]
        slow_proxy = "http://127.0.0.1:%d" % ports["slow_proxy"]
        log("end to end: overhead, load %s" % load_average())
        overhead = overhead_rows(shim, url, dead_proxy, quick)
        log("end to end: dead and slow proxies, load %s" % load_average())
        proxies = {
            "dead (closed port)": dead_proxy,
            "slow (accepts, never responds)": slow_proxy,
        }
        outcomes = outcome_rows(stock, shim, url, proxies, quick)

    blocks, block_size = (QUICK_BLOCKS, QUICK_BLOCK_SIZE) if quick else (BLOCKS, BLOCK_SIZE)
    overhead_note = (
        "Python %s; the server runs in a separate process. Each client runs in one process "
        "of the shim venv with proxy variables pointing at a closed port and "
        "`NO_PROXY=127.0.0.1,localhost`; %d blocks of %d requests alternate between the shim "
        "active and deactivated (`loopback_shim.deactivate()` restores every stock function). "
        "Change: median of the per-block-pair ratios of the median time per request, with "
        "its 95%% interval; budget +1%%. CPU change: the same for the client process's CPU "
        "time per request, which the server's scheduling does not move."
        % (shim.version, blocks, block_size)
    )
    outcome_note = (
        "Every proxy variable (http, https, all, both cases) points at the proxy and NO_PROXY "
        "is unset. Client timeout %.1f s; median over %d tries, each a fresh request in one "
        "process per venv, the client's import excluded."
        % (OUTCOME_TIMEOUT_SECONDS, QUICK_OUTCOME_TRIES if quick else OUTCOME_TRIES)
    )
    overhead_table = markdown_table(
        [
            "Client",
            "Stock (ms/request)",
            "Shim (ms/request)",
            "Change",
            "CPU change",
            "Within +1%",
        ],
        overhead,
    )
    outcome_table = markdown_table(
        ["Client", "Proxy", "Stock", "Shim"], outcomes
    )
    return "\n\n".join([overhead_table, overhead_note, outcome_table, outcome_note]) + "\n"
