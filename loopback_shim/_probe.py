"""Child-process script of the doctor: how the shim activated, and where requests went.

The doctor passes this file's source to ``python -c`` with a client name and URLs,
so that the child imports nothing of the shim by itself and starts exactly as any
program of the environment does. The child prints one JSON line. The doctor also
imports ``describe_activation`` to describe its own process. Standard library only.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

TIMEOUT_SECONDS = 10
CLIENTS = ("urllib.request", "requests", "urllib3", "httpx", "aiohttp")
_TRUE_VALUES = ("1", "true", "yes", "on")


def describe_activation() -> dict[str, Any]:
    """Return how the shim activated in this process, derived from what start-up left.

    The boot module records nothing, so the mode is derived: an active shim has its
    finder on sys.meta_path; the boot module's directory distinguishes a site-packages
    ``.pth``/``.start`` from the injected sitecustomize, whose finder carries the
    root it loaded the shim from.
    """
    boot = sys.modules.get("_loopback_shim_boot")
    boot_file = getattr(boot, "__file__", None)
    active = any(getattr(finder, "loopback_shim_marker", False) for finder in sys.meta_path)
    disable_value = os.environ.get("LOOPBACK_SHIM_DISABLE")
    if active:
        mode, detail = _active_mode(boot_file)
    elif (disable_value or "").strip().lower() in _TRUE_VALUES:
        mode, detail = "disabled", "LOOPBACK_SHIM_DISABLE=%s" % disable_value
    elif boot is not None:
        mode = "not active"
        detail = ("the boot module is loaded but its import hook is missing: activation"
                  " failed or deactivate() ran (LOOPBACK_SHIM_DEBUG=1 shows failures)")
    else:
        mode, detail = "not active", "no .pth, .start or PYTHONPATH copy of the shim ran"
    patching = sys.modules.get("loopback_shim._patching")
    patched = sorted(getattr(patching, "_applied_targets", ()))
    return {"mode": mode, "detail": detail, "boot_file": boot_file, "patched": patched}


def _active_mode(boot_file: str | None) -> tuple[str, str]:
    if boot_file:
        boot_dir = _canonical(os.path.dirname(boot_file))
        if boot_dir in _site_directories():
            has_start = os.path.exists(os.path.join(boot_dir, "loopback_shim.start"))
            has_pth = os.path.exists(os.path.join(boot_dir, "loopback_shim.pth"))
            # PEP 829: from CPython 3.15 a .start file replaces the .pth of the same name.
            if has_start and sys.version_info >= (3, 15):
                return ".start", boot_dir
            if has_pth:
                return ".pth", boot_dir
    # The injected sitecustomize appends a finder that loads only the shim's modules.
    for finder in sys.meta_path:
        if hasattr(finder, "loopback_shim_names"):
            return "PYTHONPATH", "shim loaded from %s" % getattr(finder, "root", "?")
    return "explicit", "loopback_shim.activate() was called by the program"


def _site_directories() -> set[str]:
    import site

    directories = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    if site.ENABLE_USER_SITE:
        directories.append(site.getusersitepackages())
    return {_canonical(directory) for directory in directories}


def _canonical(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def fetch_urllib_request(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
        body: bytes = response.read()
        return body


def fetch_requests(url: str) -> bytes:
    import requests

    body: bytes = requests.get(url, timeout=TIMEOUT_SECONDS).content
    return body


def fetch_urllib3(url: str) -> bytes:
    # As selenium and the kubernetes client do: a ProxyManager built from the
    # environment's proxy, which urllib3 itself never reads.
    import urllib.parse
    import urllib.request

    import urllib3

    proxy = urllib.request.getproxies().get(urllib.parse.urlsplit(url).scheme)
    manager = urllib3.ProxyManager(proxy) if proxy else urllib3.PoolManager()
    response = manager.request("GET", url, timeout=TIMEOUT_SECONDS, retries=False)
    body: bytes = response.data
    return body


def fetch_httpx(url: str) -> bytes:
    import httpx

    with httpx.Client(timeout=TIMEOUT_SECONDS) as client:
        return client.get(url).content


def fetch_aiohttp(url: str) -> bytes:
    import asyncio

    import aiohttp

    async def get() -> bytes:
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
        # aiohttp reads the proxy variables only with trust_env=True.
        async with aiohttp.ClientSession(trust_env=True, timeout=timeout) as session:
            async with session.get(url) as response:
                return await response.read()

    return asyncio.run(get())


_FETCHERS: dict[str, Callable[[str], bytes]] = {
    "urllib.request": fetch_urllib_request,
    "requests": fetch_requests,
    "urllib3": fetch_urllib3,
    "httpx": fetch_httpx,
    "aiohttp": fetch_aiohttp,
}


def fetch(client: str, url: str) -> dict[str, Any]:
    """Request ``url`` with ``client``; ``via`` names the server that replied."""
    try:
        answer = json.loads(_FETCHERS[client](url))
        return {"url": url, "via": answer.get("via"), "error": None}
    except Exception as exc:
        return {"url": url, "via": None, "error": "%s: %s" % (type(exc).__name__, exc)}


def main(argv: list[str]) -> None:
    client, urls = argv[0], argv[1:]
    results = [fetch(client, url) for url in urls]
    report = {
        "client": client,
        "results": results,
        "activation": describe_activation(),
        "no_proxy": {name: os.environ.get(name) for name in ("no_proxy", "NO_PROXY")},
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
