"""Child-process script of ``loopback-shim check``: each library's proxy decision.

``python -c <this file's source> MODE SHIM_ROOT URL...`` prints one JSON line.
MODE "stock" runs with LOOPBACK_SHIM_DISABLE=1 set by the caller, so every library
decides as shipped; MODE "shim" activates the shim (``SHIM_ROOT`` is where
``loopback_shim`` is importable from), so the patched functions decide. Nothing
connects and nothing resolves: each decision calls the library's own function, the
one its request path calls, on the proxy variables of the environment.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

LIBRARIES = ("urllib.request", "requests", "httpx", "aiohttp")
_NO_PROXY_NAMES = ("no_proxy", "NO_PROXY")
_mode = "stock"


def _direct(reason: str) -> dict[str, Any]:
    return {"route": "direct", "proxy": None, "reason": reason}


def _proxied(proxy: object, key: str) -> dict[str, Any]:
    return {"route": "proxied", "proxy": str(proxy), "reason": "proxy from " + _variable_for(key)}


def _variable_for(key: str) -> str:
    # urllib.request.getproxies_environment (CPython 3.9 to 3.13), which requests,
    # httpx and aiohttp all call: a non-empty lower-case name wins.
    lower = key + "_proxy"
    if os.environ.get(lower):
        return lower
    return lower.upper()


def _no_proxy_entries() -> list[str]:
    value = os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or ""
    return [entry.strip() for entry in value.replace(" ", ",").split(",") if entry.strip()]


@contextlib.contextmanager
def _only_no_proxy_entry(entry: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in _NO_PROXY_NAMES}
    for name in _NO_PROXY_NAMES:
        os.environ[name] = entry
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _bypass_reason(url: str, bypasses: Callable[[], bool]) -> str:
    """Name what made a library go direct although a proxy variable is set.

    A loopback host that still goes direct with NO_PROXY empty went direct by a
    patch of the shim. Otherwise each NO_PROXY entry is tried alone with the
    library's own function, and the first one that alone makes it go direct is
    named. For a library the shim does not patch, that may be an entry the shim
    added at start-up.
    """
    hostname = urlsplit(url).hostname or ""
    if _mode == "shim":
        from loopback_shim import is_loopback_host

        if is_loopback_host(hostname):
            with _only_no_proxy_entry(""):
                patched = bypasses()
            if patched:
                return "loopback: " + describe_loopback(hostname)
    for entry in _no_proxy_entries():
        with _only_no_proxy_entry(entry):
            if bypasses():
                return 'NO_PROXY entry "%s"' % entry
    return "NO_PROXY"


def describe_loopback(hostname: str) -> str:
    """Return the loopback range or name that ``hostname`` belongs to."""
    name = hostname.lower().partition("%")[0]
    if name.endswith("."):
        name = name[:-1]
    if name == "localhost":
        return "localhost"
    if name.endswith(".localhost"):
        return "*.localhost (RFC 6761)"
    try:
        packed = socket.inet_pton(socket.AF_INET6, name)
    except (OSError, ValueError):
        pass
    else:
        if packed == bytes(16):
            return ":: (unspecified address)"
        if packed == bytes(15) + b"\x01":
            return "::1"
        return "::ffff:127.0.0.0/104 (IPv4-mapped)"
    try:
        packed = socket.inet_aton(name)
    except OSError:
        return hostname
    return "127.0.0.0/8" if packed[0] == 127 else "0.0.0.0 (unspecified address)"


def decide_urllib_request(url: str) -> dict[str, Any]:
    import urllib.request

    scheme = urlsplit(url).scheme.lower()
    proxies = urllib.request.getproxies()
    if not proxies.get(scheme):
        if proxies.get("all"):
            # ProxyHandler installs one <scheme>_open per key, so "all" is never used.
            return _direct("no proxy variable for %s (urlopen ignores ALL_PROXY)" % scheme)
        return _direct("no proxy variable")
    # ProxyHandler.proxy_open calls proxy_bypass(req.host), port and brackets included.
    host = urllib.request.Request(url).host

    def bypasses() -> bool:
        return bool(host) and bool(urllib.request.proxy_bypass(host))

    if bypasses():
        return _direct(_bypass_reason(url, bypasses))
    return _proxied(proxies[scheme], scheme)


def decide_requests(url: str) -> dict[str, Any]:
    import requests
    import requests.adapters
    import requests.utils

    scheme = urlsplit(url).scheme.lower()
    # Session.request merges the environment's proxies, then HTTPAdapter.send picks one.
    with requests.Session() as session:
        settings = session.merge_environment_settings(url, {}, None, None, None)
    proxies = settings["proxies"]
    proxy = requests.adapters.select_proxy(url, proxies)  # type: ignore[attr-defined]
    if proxy:
        return _proxied(proxy, scheme if proxies.get(scheme) == proxy else "all")
    environment = requests.utils.getproxies()  # type: ignore[attr-defined]
    if not (environment.get(scheme) or environment.get("all")):
        return _direct("no proxy variable")

    def bypasses() -> bool:
        return bool(requests.utils.should_bypass_proxies(url, no_proxy=None))

    return _direct(_bypass_reason(url, bypasses))


def decide_httpx(url: str) -> dict[str, Any]:
    import httpx
    from httpx import _utils as httpx_utils

    scheme = urlsplit(url).scheme.lower()
    # verify=False only spares loading the CA bundle for each transport (0.2 s per
    # Client() with a proxy set, httpx 0.28): nothing connects, and the proxy
    # choice does not depend on it.

    def transport_is_direct() -> bool:
        # httpx reads the environment once, in Client(); each request hop then
        # picks a transport with _transport_for_url (0.23 to 0.29).
        with httpx.Client(verify=False) as client:
            transport = client._transport_for_url(httpx.URL(url))
            mounted = [t for t in client._mounts.values() if t is not None]
            return transport is client._transport or all(t is not transport for t in mounted)

    try:
        client = httpx.Client(verify=False)
    except Exception as exc:
        return {"route": "error", "proxy": None,
                "reason": "httpx.Client() raised %s: %s" % (type(exc).__name__, exc)}
    with client:
        transport = client._transport_for_url(httpx.URL(url))
        # For a loopback URL the shim returns the client's own transport, or a direct
        # twin of it when that one is a proxy. Only a mounted transport proxies.
        for pattern, mounted in client._mounts.items():
            if mounted is transport and transport is not client._transport:
                key = pattern.pattern.split("://")[0]
                proxy = httpx_utils.get_environment_proxies().get(pattern.pattern)
                return _proxied(proxy, key)
    environment = httpx_utils.get_environment_proxies()
    if not (environment.get(scheme + "://") or environment.get("all://")):
        return _direct("no proxy variable")
    return _direct(_bypass_reason(url, transport_is_direct))


def decide_aiohttp(url: str) -> dict[str, Any]:
    # aiohttp reads the proxy variables only for ClientSession(trust_env=True): per
    # request hop, helpers.get_env_proxy_for_url picks a proxy, and the request's
    # __init__ stores it with ClientRequest.update_proxy (3.8 to 3.14).
    from aiohttp import client as aiohttp_client
    from aiohttp import helpers
    from aiohttp.client_reqrep import ClientRequest
    from yarl import URL

    scheme = urlsplit(url).scheme.lower()

    def stored_proxy() -> Any:
        try:
            proxy, auth = aiohttp_client.get_env_proxy_for_url(URL(url))  # type: ignore[attr-defined]
        except LookupError:
            return None
        # update_proxy reads nothing but its arguments and self.url, so a bare
        # instance shows what a real request would store.
        request = ClientRequest.__new__(ClientRequest)
        request.url = URL(url)
        request.update_proxy(proxy, auth, None)
        return request.proxy

    with warnings.catch_warnings():
        # proxies_from_env warns about https:// proxy URLs, which it skips.
        warnings.simplefilter("ignore")
        proxy = stored_proxy()
        if proxy is not None:
            return _proxied(proxy, scheme)
        if scheme not in helpers.proxies_from_env():
            return _direct("no proxy variable")
        return _direct(_bypass_reason(url, lambda: stored_proxy() is None))


_DECIDERS: dict[str, Callable[[str], dict[str, Any]]] = {
    "urllib.request": decide_urllib_request,
    "requests": decide_requests,
    "httpx": decide_httpx,
    "aiohttp": decide_aiohttp,
}


def _activate_shim(shim_root: str) -> dict[str, Any]:
    """Activate the shim unless start-up did; return how start-up left it."""
    try:
        import loopback_shim
    except ImportError:
        sys.path.append(shim_root)
        import loopback_shim
    from loopback_shim._probe import describe_activation

    activation = describe_activation()
    if activation["mode"] not in (".pth", ".start", "PYTHONPATH", "explicit"):
        os.environ.pop("LOOPBACK_SHIM_DISABLE", None)
        loopback_shim.deactivate()  # lets activate() run again after a disabled start-up
        loopback_shim.activate()
    return activation


def main(argv: list[str]) -> None:
    global _mode
    _mode, shim_root, urls = argv[0], argv[1], argv[2:]
    activation = _activate_shim(shim_root) if _mode == "shim" else None
    libraries = [name for name in LIBRARIES if importlib.util.find_spec(name) is not None]
    decisions = []
    for url in urls:
        for library in libraries:
            try:
                decision = _DECIDERS[library](url)
            except Exception as exc:
                decision = {"route": "error", "proxy": None,
                            "reason": "%s: %s" % (type(exc).__name__, exc)}
            decision.update(url=url, library=library)
            decisions.append(decision)
    print(json.dumps({"mode": _mode, "activation": activation, "libraries": libraries,
                      "decisions": decisions}))


if __name__ == "__main__":
    main(sys.argv[1:])
