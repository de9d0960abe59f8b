"""requests (and pip's vendored copy): loopback never goes through a proxy.

Every request and redirect hop reaches ``HTTPAdapter.send``, which asks
``select_proxy(url, proxies)`` both for the connection pool and for the request
line (absolute form through a proxy, origin form otherwise). Returning None there
for a loopback URL covers environment proxies, ``proxies=`` and ``Session.proxies``
alike. Stock requests never drops an explicit proxy for NO_PROXY, and keeps the
proxy on a redirect to a NO_PROXY host (psf/requests issue 3296, open in 2.34).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from ._patching import PatchGroup, goes_direct


def patch_requests(group: PatchGroup, requests: ModuleType) -> None:
    package = requests.__name__
    utils = sys.modules[package + ".utils"]
    adapters = sys.modules[package + ".adapters"]
    sessions = sys.modules[package + ".sessions"]
    # The adapter connects to the host urllib3's parse_url finds, so decide on it.
    host_of = _make_host_parser(getattr(adapters, "parse_url", None))

    stock_select_proxy = utils.select_proxy
    wrapper = group.wrap(
        utils, "select_proxy", lambda original: _make_select_proxy(original, host_of)
    )
    group.rebind(stock_select_proxy, wrapper, ("select_proxy",))
    group.wrap(
        sessions.SessionRedirectMixin,
        "rebuild_proxies",
        lambda original: _make_rebuild_proxies(original, host_of),
    )


def _make_host_parser(parse_url: Callable[[str], Any] | None) -> Callable[[Any], Any]:
    def host_of(url: Any) -> Any:
        try:
            if parse_url is not None:
                return parse_url(url).host
            return urlsplit(url).hostname
        except Exception:
            return None  # unparsable: the stock decision applies

    return host_of


def _make_select_proxy(original: Callable[..., Any], host_of: Callable[[Any], Any]) -> Any:
    def loopback_shim_select_proxy(url: Any, proxies: Any, *args: Any, **kwargs: Any) -> Any:
        # With no proxies the stock function selects none, so parsing the URL would
        # only add cost. requests passes {} whenever NO_PROXY covers the host.
        if proxies and goes_direct(host_of(url), "requests"):
            return None
        return original(url, proxies, *args, **kwargs)

    return loopback_shim_select_proxy


def _make_rebuild_proxies(original: Callable[..., Any], host_of: Callable[[Any], Any]) -> Any:
    def loopback_shim_rebuild_proxies(
        self: Any, prepared_request: Any, proxies: Any, *args: Any, **kwargs: Any
    ) -> Any:
        new_proxies = original(self, prepared_request, proxies, *args, **kwargs)
        # The stock method adds Proxy-Authorization for the proxy it keeps; a hop
        # that goes direct must not hand the proxy's credentials to the origin.
        if goes_direct(host_of(prepared_request.url), "requests redirect"):
            prepared_request.headers.pop("Proxy-Authorization", None)
        return new_proxies

    return loopback_shim_rebuild_proxies
