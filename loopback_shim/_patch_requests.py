"""requests (and pip's vendored copy): loopback never goes through a proxy.

Every request and redirect hop reaches ``HTTPAdapter.send``, which asks
``select_proxy(url, proxies)`` both for the connection pool and for the request
line (absolute form through a proxy, origin form otherwise). Returning None there
for a loopback URL covers environment proxies, ``proxies=`` and ``Session.proxies``
alike. Stock requests never drops an explicit proxy for NO_PROXY, and keeps the
proxy on a redirect to a NO_PROXY host (psf/requests issue 3296, open in 2.34).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from ._loopback import is_loopback_host
from ._patching import PatchGroup, goes_direct, no_proxy_before_extension


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
    replacements = {"select_proxy": (stock_select_proxy, wrapper)}
    group.wrap(
        sessions.SessionRedirectMixin,
        "rebuild_proxies",
        lambda original: _make_rebuild_proxies(original, host_of),
    )
    # A release without these functions keeps its stock suffix matching.
    if hasattr(utils, "should_bypass_proxies") and hasattr(utils, "set_environ"):
        stock_should_bypass = utils.should_bypass_proxies
        wrapper = group.wrap(utils, "should_bypass_proxies", _make_should_bypass_proxies)
        replacements["should_bypass_proxies"] = (stock_should_bypass, wrapper)
        group.wrap(utils, "set_environ", _make_set_environ)
    group.rebind(replacements)


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


# Set while should_bypass_proxies runs again against the user's own NO_PROXY.
_rechecking = threading.local()


def _make_should_bypass_proxies(original: Callable[..., Any]) -> Any:
    def loopback_shim_should_bypass_proxies(
        url: Any, no_proxy: Any, *args: Any, **kwargs: Any
    ) -> Any:
        bypass = original(url, no_proxy, *args, **kwargs)
        if not bypass or no_proxy is not None or args or kwargs:
            return bypass
        before = no_proxy_before_extension()
        if before is None:
            return bypass
        hostname = _hostname(url)
        if hostname is None or is_loopback_host(hostname):
            return bypass
        # requests matches NO_PROXY entries as suffixes: 2.34 sends "a.127.0.0.1"
        # direct for the entry "127.0.0.1", and 2.33 and older (pip's vendored copy
        # before pip 26) also "xlocalhost" for "localhost" and every IPv6 address
        # ending in "::1" for "::1". So a host that is not loopback is decided
        # again against NO_PROXY as the user set it, which requests reads as
        # no_proxy or else NO_PROXY.
        user_no_proxy = before.get("no_proxy") or before.get("NO_PROXY") or ""
        _rechecking.active = True
        try:
            return original(url, user_no_proxy, *args, **kwargs)
        finally:
            _rechecking.active = False

    return loopback_shim_should_bypass_proxies


def _make_set_environ(original: Callable[..., Any]) -> Any:
    def loopback_shim_set_environ(name: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        # should_bypass_proxies puts an explicit no_proxy into os.environ while it
        # calls proxy_bypass. The shim's second run passes the user's value, which
        # the patched proxy_bypass applies by itself: writing the environment from
        # this thread would race with other threads and child processes.
        if getattr(_rechecking, "active", False):
            return contextlib.nullcontext()
        return original(name, value, *args, **kwargs)

    return loopback_shim_set_environ


def _hostname(url: Any) -> Any:
    # should_bypass_proxies decides on urlparse(url).hostname.
    try:
        return urlsplit(url).hostname
    except Exception:
        return None
