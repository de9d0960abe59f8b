"""urllib3 (and pip's vendored copy): a ProxyManager sends loopback targets direct.

ProxyManager reads no environment; callers such as selenium build one from it and
then route every request through the proxy. Three methods decide the route, each
per request and per redirect hop (urllib3 1.26 to 2.x): ``connection_from_host``
picks the pool (the proxy's, or a CONNECT tunnel for https), ``_set_proxy_headers``
adds proxy request headers, and ``_proxy_requires_url_absolute_form`` picks the
request line. For a loopback host they now behave as a plain PoolManager does:
a pool without proxy settings, in the same pool container, and origin form.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ._patching import PatchGroup, goes_direct

# Pool keyword arguments that ProxyManager adds; None removes a key when merged.
_NO_PROXY_POOL_KWARGS = {"_proxy": None, "_proxy_headers": None, "_proxy_config": None}


def patch_urllib3(group: PatchGroup, urllib3: ModuleType) -> None:
    poolmanager = sys.modules[urllib3.__name__ + ".poolmanager"]
    proxy_manager = poolmanager.ProxyManager
    base_connection_from_host = poolmanager.PoolManager.connection_from_host
    parse_url = poolmanager.parse_url

    group.wrap(
        proxy_manager,
        "connection_from_host",
        lambda original: _make_connection_from_host(original, base_connection_from_host),
    )
    group.wrap(
        proxy_manager,
        "_set_proxy_headers",
        lambda original: _make_set_proxy_headers(original, parse_url),
    )
    group.wrap(proxy_manager, "_proxy_requires_url_absolute_form", _make_absolute_form)


# Each wrapper takes (self, *args, **kwargs) and binds them to the urllib3 1.26 to
# 2.x signature with one of these. A call that does not bind (a parameter a newer
# urllib3 added or renamed) gets the stock method with the caller's arguments
# as they were, instead of a TypeError raised by the wrapper.
def _connection_arguments(
    host: Any, port: Any = None, scheme: Any = "http", pool_kwargs: Any = None
) -> tuple[Any, Any, Any, Any]:
    return host, port, scheme, pool_kwargs


def _proxy_headers_arguments(url: Any, headers: Any = None) -> tuple[Any, Any]:
    return url, headers


def _absolute_form_arguments(parsed_url: Any) -> Any:
    return parsed_url


def _make_connection_from_host(original: Callable[..., Any], direct: Callable[..., Any]) -> Any:
    def loopback_shim_connection_from_host(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            host, port, scheme, pool_kwargs = _connection_arguments(*args, **kwargs)
        except TypeError:
            return original(self, *args, **kwargs)
        if goes_direct(host, "urllib3"):
            direct_kwargs = dict(pool_kwargs or {})
            direct_kwargs.update(_NO_PROXY_POOL_KWARGS)
            return direct(self, host, port, scheme, pool_kwargs=direct_kwargs)
        return original(self, *args, **kwargs)

    return loopback_shim_connection_from_host


def _make_set_proxy_headers(original: Callable[..., Any], parse_url: Callable[[str], Any]) -> Any:
    def loopback_shim_set_proxy_headers(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            url, headers = _proxy_headers_arguments(*args, **kwargs)
            host = parse_url(url).host
        except Exception:
            return original(self, *args, **kwargs)
        if goes_direct(host, "urllib3"):
            return headers
        return original(self, *args, **kwargs)

    return loopback_shim_set_proxy_headers


def _make_absolute_form(original: Callable[..., Any]) -> Any:
    def loopback_shim_proxy_requires_url_absolute_form(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            parsed_url = _absolute_form_arguments(*args, **kwargs)
        except TypeError:
            return original(self, *args, **kwargs)
        if goes_direct(getattr(parsed_url, "host", None), "urllib3"):
            return False
        return original(self, *args, **kwargs)

    return loopback_shim_proxy_requires_url_absolute_form
