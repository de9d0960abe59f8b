"""urllib.request: the bypass decision behind urlopen and the libraries that ask it.

ProxyHandler.proxy_open calls the module global ``proxy_bypass(req.host)`` for every
request and redirect hop, with the host as urlopen parsed and unquoted it, brackets
and port included ("[::1]:8080"). requests, aiohttp and botocore bind the same
function by name with ``from urllib.request import proxy_bypass``. CPython 3.8 to
3.13 never bypass loopback by themselves on Linux: the stock function only matches
NO_PROXY entries, with no IP or CIDR logic. ProxyHandler.proxy_open is wrapped too,
so that a redirect from a proxied host to loopback drops the proxy's credentials.
"""

import socket

from ._patching import goes_direct, no_proxy_before_extension

# Annotations only: the typing module costs milliseconds to import, and a process
# that imports urllib.request alone has not loaded it (CPython 3.9 to 3.13).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

    from ._patching import PatchGroup

# On Linux proxy_bypass is proxy_bypass_environment; on macOS and Windows
# proxy_bypass consults the system settings when no proxy variable is set.
_BYPASS_FUNCTIONS = ("proxy_bypass", "proxy_bypass_environment")


def patch_urllib_request(group: "PatchGroup", request: "ModuleType") -> None:
    stock_environment_bypass = request.proxy_bypass_environment
    replacements = {}
    for name in _BYPASS_FUNCTIONS:
        original = getattr(request, name)
        wrapper = group.wrap(
            request,
            name,
            lambda original: _make_proxy_bypass(original, stock_environment_bypass),
        )
        replacements[name] = (original, wrapper)
    group.rebind(replacements)
    # NOTE: ProxyHandler.__init__ binds self.proxy_open into each <scheme>_open, so a
    # handler built before this patch keeps the stock method. Its decision still comes
    # from the patched proxy_bypass, but the header removal below is missing.
    group.wrap(request.ProxyHandler, "proxy_open", _make_proxy_open)


def _make_proxy_bypass(
    original: "Callable[..., Any]", stock_environment_bypass: "Callable[..., Any]"
) -> "Callable[..., Any]":
    def loopback_shim_proxy_bypass(host: "Any", *args: "Any", **kwargs: "Any") -> "Any":
        if goes_direct(host, "urllib.request"):
            return True
        if goes_direct(_ipv6_host_before_port(host), "urllib.request"):
            return True
        bypass = original(host, *args, **kwargs)
        if bypass and not args and not kwargs:
            before = no_proxy_before_extension()
            if before is not None:
                return _bypass_before_extension(stock_environment_bypass, host, before)
        return bypass

    return loopback_shim_proxy_bypass


def _ipv6_host_before_port(host: "Any") -> "Any":
    # python-websockets 15 calls proxy_bypass("::1:41963"), an IPv6 host and a port
    # without brackets; the stock matcher splits it at the last colon. Only a
    # string that is not itself an IPv6 address can be read that way, because
    # "::1:8080" is also the address 0::1:8080, which is not loopback.
    if not isinstance(host, str) or host.count(":") < 2 or host.startswith("["):
        return None
    address, _, port = host.rpartition(":")
    if not port.isdigit():
        return None
    try:
        socket.inet_pton(socket.AF_INET6, host.partition("%")[0])
    except (OSError, ValueError):
        return address
    return None


def _bypass_before_extension(
    stock_environment_bypass: "Callable[..., Any]", host: "Any", before: "dict[str, str | None]"
) -> bool:
    # The stock matcher takes an entry as a suffix, so the "127.0.0.1" the shim
    # added also bypasses the name "a.127.0.0.1". A host that is not loopback is
    # decided against NO_PROXY as the user set it. getproxies_environment() reads
    # no_proxy before NO_PROXY, and an empty no_proxy hides NO_PROXY.
    lower, upper = before.get("no_proxy"), before.get("NO_PROXY")
    no_proxy = lower if lower is not None else upper
    if not no_proxy:
        return False
    return bool(stock_environment_bypass(host, {"no": no_proxy}))


def _make_proxy_open(original: "Callable[..., Any]") -> "Callable[..., Any]":
    def loopback_shim_proxy_open(self: "Any", req: "Any", *args: "Any", **kwargs: "Any") -> "Any":
        if goes_direct(getattr(req, "host", None), "urllib.request"):
            # HTTPRedirectHandler copies every header of a proxied hop into the next
            # request, including the Proxy-authorization that proxy_open added for a
            # proxy URL with credentials (CPython 3.9 to 3.13). A hop that goes direct
            # must not send the proxy's credentials to the origin.
            req.remove_header("Proxy-authorization")
            return None  # what the stock method returns when proxy_bypass is true
        return original(self, req, *args, **kwargs)

    return loopback_shim_proxy_open
