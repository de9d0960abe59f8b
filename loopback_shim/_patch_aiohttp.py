"""aiohttp: a request to a loopback host never goes through a proxy.

``ClientSession._request`` builds one ``ClientRequest`` per request and per
redirect hop (``ws_connect`` and ``aiohttp.request`` go through it too) and passes
it the proxy: ``proxy=`` of the call or of the session, else, with
``trust_env=True``, what ``helpers.get_env_proxy_for_url`` finds. The request's
``__init__`` stores that choice with ``update_proxy(proxy, proxy_auth,
proxy_headers)``, and the connector reads only ``req.proxy`` from then on to pick
a proxy or a direct connection (aiohttp 3.8 to 3.14). For a loopback URL the
wrapper stores no proxy, so the connection key, pool and request line are those
of a direct request.

NOTE: a connector that proxies by itself (aiohttp-socks' ProxyConnector) or a
``request_class`` that overrides ``update_proxy`` without calling it is not covered.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ._patching import PatchGroup, failure_once, goes_direct


def patch_aiohttp(group: PatchGroup, aiohttp: ModuleType) -> None:
    client_reqrep = sys.modules[aiohttp.__name__ + ".client_reqrep"]
    group.wrap(client_reqrep.ClientRequest, "update_proxy", _make_update_proxy)


def _make_update_proxy(original: Callable[..., Any]) -> Any:
    def loopback_shim_update_proxy(self: Any, *args: Any, **kwargs: Any) -> Any:
        # The stock call validates the arguments and stores the proxy; the caller's
        # arguments pass through untouched, whatever a newer aiohttp names them.
        result = original(self, *args, **kwargs)
        if getattr(self, "proxy", None) is None:
            return result
        if not goes_direct(_request_host(self), "aiohttp"):
            return result
        try:
            # (proxy, proxy_auth, proxy_headers) in aiohttp 3.8 to 3.14.
            return original(self, None, None, None)
        except Exception as exc:
            failure_once("aiohttp update_proxy", exc)
            return original(self, *args, **kwargs)

    return loopback_shim_update_proxy


def _request_host(request: Any) -> Any:
    # ClientRequest.__init__ sets self.url before it calls update_proxy.
    url = getattr(request, "url", None)
    return getattr(url, "host", None)
