"""urllib.request: the bypass decision behind urlopen and the libraries that ask it.

ProxyHandler.proxy_open calls the module global ``proxy_bypass(req.host)`` for every
request and redirect hop, with the host as urlopen parsed and unquoted it, brackets
and port included ("[::1]:8080"). requests, aiohttp and botocore bind the same
function by name with ``from urllib.request import proxy_bypass``. CPython 3.8 to
3.13 never bypass loopback by themselves on Linux: the stock function only matches
NO_PROXY entries, with no IP or CIDR logic.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from ._patching import PatchGroup, goes_direct

# On Linux proxy_bypass is proxy_bypass_environment; on macOS and Windows
# proxy_bypass consults the system settings when no proxy variable is set.
_BYPASS_FUNCTIONS = ("proxy_bypass", "proxy_bypass_environment")


def patch_urllib_request(group: PatchGroup, request: ModuleType) -> None:
    for name in _BYPASS_FUNCTIONS:
        original = getattr(request, name)
        wrapper = group.wrap(request, name, _make_proxy_bypass)
        group.rebind(original, wrapper, (name,))


def _make_proxy_bypass(original: Callable[..., Any]) -> Callable[..., Any]:
    def loopback_shim_proxy_bypass(host: Any, *args: Any, **kwargs: Any) -> Any:
        if goes_direct(host, "urllib.request"):
            return True
        return original(host, *args, **kwargs)

    return loopback_shim_proxy_bypass
