"""Development mode: start-up with the shim raises no warning under ``-X dev -W error``.

``-X dev`` turns on every warning category, including DeprecationWarning,
ImportWarning and ResourceWarning, and ``-W error`` makes each one an exception.
Each start-up path of the shim runs this way: the installed .pth, PYTHONPATH
injection, an explicit activate(), each followed by imports of every target and
loopback requests through a proxy-configured environment. The same program in
the stock venv is the baseline, so a warning a client library raises by itself
does not count against the shim.
"""

from __future__ import annotations

import pytest
from environments import REPO, proxy_environ

DEV_FLAGS = ["-X", "dev", "-W", "error"]

REQUEST_LOOPBACK = """
import asyncio, json, sys, urllib.request
import aiohttp, httpx, requests, urllib3
origin = sys.argv[1]
vias = []
with urllib.request.urlopen(origin, timeout=10) as response:
    vias.append(json.loads(response.read())["via"])
with requests.Session() as session:
    vias.append(session.get(origin, timeout=10).json()["via"])
with urllib3.PoolManager() as manager:
    vias.append(json.loads(manager.request("GET", origin, timeout=10).data)["via"])
with httpx.Client(timeout=10) as client:
    vias.append(client.get(origin).json()["via"])

async def fetch():
    async with aiohttp.ClientSession(trust_env=True) as session:
        async with session.get(origin) as response:
            return (await response.json())["via"]

vias.append(asyncio.run(fetch()))
print(json.dumps(vias))
"""

EXPLICIT_ACTIVATE = (
    "import sys\nsys.path.insert(0, %r)\nimport loopback_shim\nloopback_shim.activate()\n"
    % (str(REPO))
)

# The request program imports every target first.
PROGRAMS = {
    "plain start": "pass",
    "loopback requests": REQUEST_LOOPBACK,
}


def run_dev(interpreter, program, origin_url, trap_url, **overrides):
    env = proxy_environ(trap_url, **overrides)
    return interpreter.run([*DEV_FLAGS, "-c", program, origin_url], env=env, check=False)


@pytest.fixture(scope="module")
def stock_stderr(stock_env, origins, trap):
    """Return the stock venv's stderr for each program: the baseline."""
    trap_url = trap.url.rstrip("/")
    return {
        name: run_dev(stock_env, program, origins[0].url, trap_url).stderr
        for name, program in PROGRAMS.items()
    }


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_installed_shim_dev_mode(program, shim_env, stock_stderr, origins, trap):
    shim = run_dev(shim_env, PROGRAMS[program], origins[0].url, trap.url.rstrip("/"))

    assert shim.returncode == 0, shim.stderr
    assert shim.stderr == stock_stderr[program]
    assert "loopback" not in shim.stderr


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_pythonpath_injection_dev_mode(program, stock_env, stock_stderr, inject_dir, origins, trap):
    trap_url = trap.url.rstrip("/")
    injected = run_dev(
        stock_env, PROGRAMS[program], origins[0].url, trap_url, PYTHONPATH=str(inject_dir)
    )

    assert injected.returncode == 0, injected.stderr
    assert injected.stderr == stock_stderr[program]
    assert "loopback" not in injected.stderr


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_explicit_activate_dev_mode(program, stock_env, stock_stderr, origins, trap):
    trap_url = trap.url.rstrip("/")
    activated = run_dev(stock_env, EXPLICIT_ACTIVATE + PROGRAMS[program], origins[0].url, trap_url)

    assert activated.returncode == 0, activated.stderr
    assert activated.stderr == stock_stderr[program]
    assert "loopback" not in activated.stderr


def test_loopback_requests_reach_origin_in_dev_mode(shim_env, origins, trap):
    # The request program does what it claims: all five clients reach the origin
    # directly although every proxy variable names the trap.
    trap.clear()
    completed = run_dev(shim_env, REQUEST_LOOPBACK, origins[0].url, trap.url.rstrip("/"))
    assert completed.returncode == 0, completed.stderr
    vias = completed.stdout.strip().splitlines()[-1]
    assert vias == '["origin", "origin", "origin", "origin", "origin"]'
    assert trap.requests == []
