from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from environments import INJECT_DIR, REPO, Interpreter, build_wheel, is_proxy_variable, make_venv
from servers import RunningServer, ipv6_available, start_origin, start_trap_proxy

CLIENT_PACKAGES = ["requests", "urllib3", "httpx", "aiohttp", "websockets"]


@pytest.fixture(autouse=True)
def _no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    # In-process tests start from an environment with no proxy or shim settings.
    for name in list(os.environ):
        if is_proxy_variable(name) or name.startswith("LOOPBACK_SHIM_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def origins() -> Iterator[list[RunningServer]]:
    hosts = ["127.0.0.1", "127.0.0.2"] + (["::1"] if ipv6_available() else [])
    servers = [start_origin("origin " + host, host) for host in hosts]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def trap() -> Iterator[RunningServer]:
    server = start_trap_proxy()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def shim_env(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Interpreter:
    """A venv with the shim pip-installed from its wheel, plus the clients."""
    return make_venv(tmp_path_factory.mktemp("venv") / "shim", [str(wheel), *CLIENT_PACKAGES])


@pytest.fixture(scope="session")
def stock_env(tmp_path_factory: pytest.TempPathFactory) -> Interpreter:
    """A venv with the clients only: stock behaviour, or the shim by PYTHONPATH."""
    return make_venv(tmp_path_factory.mktemp("venv") / "stock", CLIENT_PACKAGES)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def inject_dir() -> Path:
    return INJECT_DIR
