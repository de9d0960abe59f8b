"""httpx: loopback skips httpx's proxy transports, and no NO_PROXY value raises.

``Client.__init__`` turns every proxy, whether from the environment (``trust_env``,
through ``httpx._utils.get_environment_proxies``), from ``proxy=``/``proxies=`` or
from ``mounts=``, into a mount: a URL pattern mapped to an ``HTTPTransport`` built
with ``proxy=``. ``_transport_for_url`` then picks the transport for every request
and every redirect hop (httpx 0.23 to 0.29). For a loopback URL whose pick is a
proxy transport, the wrapper returns the client's own transport instead, which is
where stock httpx sends a NO_PROXY host; when that too is a proxy, a twin built
with the same arguments and no proxy. Every other pick, and every transport that
is not a proxy (MockTransport, ASGI/WSGI, Unix socket, custom), is kept.
NOTE: a custom transport that forwards to a proxy transport inside it is not
seen through, so loopback requests through it still use that proxy.

httpx 0.24.1 to 0.29.0 turn each NO_PROXY entry into a mount pattern, and some
entries make an invalid one: ``[::1]``, ``[::1]:8080``, ``::1/128`` or any IPv6
CIDR make ``Client()`` raise ``InvalidURL`` even when no proxy is set. The
wrapped ``get_environment_proxies`` drops those patterns instead.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ._patching import PatchGroup, debug, failure_once, goes_direct

# Instance attributes the shim sets on httpx transports.
_INIT_ARGUMENTS = "_loopback_shim_init_arguments"
_DIRECT_TWIN = "_loopback_shim_direct_twin"

# httpcore pools that send through a proxy. httpx 0.28+ imports httpcore only when
# the first transport is built, so the classes are looked up then, not at patch time.
_PROXY_POOL_NAMES = ("HTTPProxy", "SOCKSProxy", "AsyncHTTPProxy", "AsyncSOCKSProxy")

_proxy_pools: tuple[type, ...] | None = None
_twin_lock = threading.Lock()
_skipped_patterns: set[str] = set()


def patch_httpx(group: PatchGroup, httpx: ModuleType) -> None:
    package = httpx.__name__
    utils = sys.modules[package + "._utils"]
    client = sys.modules[package + "._client"]
    transport_classes = (httpx.HTTPTransport, httpx.AsyncHTTPTransport)

    original = utils.get_environment_proxies
    wrapper = group.wrap(
        utils,
        "get_environment_proxies",
        lambda o: _make_get_environment_proxies(o, utils.URLPattern),
    )
    group.rebind({"get_environment_proxies": (original, wrapper)})

    for client_class in (client.Client, client.AsyncClient):
        group.wrap(
            client_class,
            "_transport_for_url",
            lambda o: _make_transport_for_url(o, transport_classes),
        )

    for transport_class in transport_classes:
        group.wrap(transport_class, "__init__", _make_init_factory(transport_class))
    group.wrap(httpx.HTTPTransport, "close", _make_close)
    group.wrap(httpx.HTTPTransport, "__exit__", _make_exit)
    group.wrap(httpx.AsyncHTTPTransport, "aclose", _make_aclose)
    group.wrap(httpx.AsyncHTTPTransport, "__aexit__", _make_aexit)


def _make_get_environment_proxies(
    original: Callable[..., Any], url_pattern: Callable[[str], Any]
) -> Any:
    def loopback_shim_get_environment_proxies(*args: Any, **kwargs: Any) -> Any:
        mounts = original(*args, **kwargs)
        try:
            return {
                key: value for key, value in mounts.items() if _is_valid_pattern(key, url_pattern)
            }
        except Exception as exc:
            failure_once("httpx NO_PROXY check", exc)
            return mounts

    return loopback_shim_get_environment_proxies


def _is_valid_pattern(key: str, url_pattern: Callable[[str], Any]) -> bool:
    # Client.__init__ builds URLPattern(key) for each mount; the same call here
    # finds the keys that would raise there.
    try:
        url_pattern(key)
    except Exception as exc:
        if key not in _skipped_patterns:
            _skipped_patterns.add(key)
            debug("httpx: NO_PROXY pattern %r skipped, httpx cannot parse it: %s", key, exc)
        return False
    return True


def _make_transport_for_url(
    original: Callable[..., Any], transport_classes: tuple[type, ...]
) -> Any:
    def loopback_shim_transport_for_url(self: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        transport = original(self, url, *args, **kwargs)
        if not _is_proxy_transport(transport, transport_classes):
            return transport
        if not goes_direct(getattr(url, "host", None), "httpx"):
            return transport
        return _direct_transport(self, transport, transport_classes)

    return loopback_shim_transport_for_url


def _is_proxy_transport(transport: Any, transport_classes: tuple[type, ...]) -> bool:
    if not isinstance(transport, transport_classes):
        return False
    return isinstance(getattr(transport, "_pool", None), _proxy_pool_classes())


def _proxy_pool_classes() -> tuple[type, ...]:
    global _proxy_pools
    if _proxy_pools is None:
        httpcore = sys.modules.get("httpcore")
        if httpcore is None:
            return ()  # no transport has been built yet, so none is a proxy
        classes = (getattr(httpcore, name, None) for name in _PROXY_POOL_NAMES)
        _proxy_pools = tuple(cls for cls in classes if isinstance(cls, type))
    return _proxy_pools


def _direct_transport(
    client: Any, proxy_transport: Any, transport_classes: tuple[type, ...]
) -> Any:
    """Return the client's own transport, or a direct twin of it if it is a proxy."""
    default = getattr(client, "_transport", None)
    if default is None:
        return proxy_transport
    if not _is_proxy_transport(default, transport_classes):
        return default
    # Client(transport=HTTPTransport(proxy=...)): every route is a proxy, so build
    # the same transport without the proxy, once, and close it with the original.
    with _twin_lock:
        twin = vars(default).get(_DIRECT_TWIN)
        if twin is None:
            try:
                twin = _build_direct_twin(default)
            except Exception as exc:
                failure_once("httpx direct transport", exc)
                return proxy_transport
            vars(default)[_DIRECT_TWIN] = twin
    return twin


def _build_direct_twin(transport: Any) -> Any:
    # NOTE: a transport built before the patch has no recorded arguments, so it
    # keeps its proxy (logged once). The twin of a subclass instance is a plain
    # HTTPTransport or AsyncHTTPTransport, without the subclass's overrides.
    import inspect

    init_class, stock_init, args, kwargs = vars(transport)[_INIT_ARGUMENTS]
    bound = inspect.signature(stock_init).bind(transport, *args, **kwargs)
    bound.arguments["proxy"] = None
    twin = init_class.__new__(init_class)
    stock_init(twin, *bound.args[1:], **bound.kwargs)
    return twin


def _make_init_factory(init_class: type) -> Callable[[Callable[..., Any]], Any]:
    def make_init(original: Callable[..., Any]) -> Any:
        def loopback_shim_transport_init(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            # Kept so that a direct twin can be built with the same TLS and pool
            # settings. A subclass that calls super().__init__() records the
            # arguments it passed to this class, and the twin is of this class.
            vars(self)[_INIT_ARGUMENTS] = (init_class, original, args, kwargs)

        return loopback_shim_transport_init

    return make_init


def _make_close(original: Callable[..., Any]) -> Any:
    def loopback_shim_transport_close(self: Any) -> None:
        original(self)
        twin = vars(self).pop(_DIRECT_TWIN, None)
        if twin is not None:
            twin.close()

    return loopback_shim_transport_close


def _make_exit(original: Callable[..., Any]) -> Any:
    def loopback_shim_transport_exit(self: Any, *args: Any) -> None:
        original(self, *args)
        twin = vars(self).pop(_DIRECT_TWIN, None)
        if twin is not None:
            twin.close()

    return loopback_shim_transport_exit


def _make_aclose(original: Callable[..., Any]) -> Any:
    async def loopback_shim_transport_aclose(self: Any) -> None:
        await original(self)
        twin = vars(self).pop(_DIRECT_TWIN, None)
        if twin is not None:
            await twin.aclose()

    return loopback_shim_transport_aclose


def _make_aexit(original: Callable[..., Any]) -> Any:
    async def loopback_shim_transport_aexit(self: Any, *args: Any) -> None:
        await original(self, *args)
        twin = vars(self).pop(_DIRECT_TWIN, None)
        if twin is not None:
            await twin.aclose()

    return loopback_shim_transport_aexit
