"""Adversarial hosts: the shim sends a request direct only when its connect host is loopback.

For every URL below and every patched client, the test computes two things with the
client's own code. The first is the host the client would connect to: its URL
parser, then the normalisation its connection layer applies before getaddrinfo.
The second is the decision the client takes with a trap proxy configured, through
the same function the client calls per request. Nothing connects to a
non-loopback host: the decision functions build pools, transports or request
objects without opening a socket.
Loopback spellings are then requested for real from the loopback origins.

The shim runs in this process: activated once for the module, undone at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.client
import importlib.util
import json
import os
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import aiohttp.client
import aiohttp.helpers
import httpx
import pytest
import requests
import requests.adapters
import urllib3
import yarl
from aiohttp.client_reqrep import ClientRequest
from loopback_oracle import oracle_is_loopback_host, socket_host
from servers import RunningServer
from urllib3.util import parse_url

import loopback_shim

# The trap proxy's URL, set by the decisions fixture before any decision is taken.
TRAP_URL = "http://127.0.0.1:9"
TIMEOUT = 10

# Hosts that are not loopback in any client: look-alike names, neighbouring
# addresses, invalid IPv4 spellings, IPv6 forms outside ::1 and ::ffff:127/104.
NOT_LOOPBACK_HOSTS = [
    "example.test",
    "127.0.0.1.example.test",
    "127.0.0.1.test",
    "localhost.example.test",
    "localhost.test",
    "localhost.localdomain",
    "localhost6",
    "ip6-localhost",
    "xlocalhost",
    "notlocalhost",
    "my-localhost",
    "localhost-x.test",
    "localhostx",
    "localhost-",
    "local-host",
    "localhos",
    "locahost",
    "loopback",
    "localhost.local",
    "localhost.example.test.",
    "localhost..",
    ".localhost",
    "a..localhost",
    "0x7f000001.example.test",
    "128.0.0.1",
    "126.255.255.255",
    "10.0.0.1",
    "192.168.0.1",
    "169.254.169.254",
    "1.127.0.0.1",
    "127.0.0.1.1",
    "127.0.0.256",
    "127.0.0.1a",
    "0x80.0.0.1",
    "0200.0.0.1",
    "2147483649",
    "4294967296",
    "0x7f000001x",
    "127x0x0x1",
    "1270.0.0.1",
    "-127.0.0.1",
    "+127.0.0.1",
    "[::2]",
    "[::ffff:128.0.0.1]",
    "[::127.0.0.1]",
    "[::1:0]",
    "[1::]",
    "[2001:db8::1]",
    "[fe80::1]",
    "[fe80::1%25lo]",
    "[fe80::1%25eth0]",
    "[fe80::7f00:1%25lo]",
    "[2001:db8::1%251]",
    "[::2%25lo]",
    "[64:ff9b::127.0.0.1]",
    "[::ffff:0:127.0.0.1]",
    "[::1.2.3.4]",
    "[127.0.0.1]",
    "[localhost]",
    "[::1]x",
    "[::1",
    "::1]",
    "example.test:80",
    "example.test:127",
    "example.test:0",
    "example.test:",
    # Unicode that IDNA maps to ASCII: not loopback by the shim's rule, so they
    # keep the stock decision (a proxy when one is configured).
    "127\u30020\u30020\u30021",
    "127\uff0e0\uff0e0\uff0e1",
    "\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54",
    "loca\u217chost",
    "\u24c1ocalhost",
    "localhost\u3002",
    "l\u00f6calhost",
    "localhost\u200b",
    "\u0131ocalhost",
    "localhos\u0442",
    "\uff11\uff12\uff17.0.0.1",
    # Whitespace and control characters inside or around the host.
    "127.0.0.1 .example.test",
    "127.0.0.1%20.example.test",
    "localhost%00.example.test",
    "localhost%0a.example.test",
    "example.test%00localhost",
    "127.0.0.1%09",
    "%20localhost",
    # Overlong and empty.
    "a" * 300,
    "a." * 130 + "localhost",
    "1" * 300,
    "x" * 64 + ".localhost.example.test",
]

# Whole URLs whose text contains loopback somewhere other than the host.
NOT_LOOPBACK_URLS = [
    "http://127.0.0.1@example.test/",
    "http://localhost@example.test/",
    "http://localhost:80@example.test/",
    "http://127.0.0.1:80@example.test/",
    "http://user:pw@example.test/127.0.0.1",
    "http://[::1]@example.test/",
    "http://example.test\\@127.0.0.1/",
    "http://example.test\\@localhost/",
    "http://example.test%5c@127.0.0.1/",
    "http://example.test/127.0.0.1",
    "http://example.test/?host=localhost",
    "http://example.test/#@127.0.0.1",
    "http://example.test?@localhost/",
    "http://example.test#@localhost/",
    "http://example.test/localhost:80/",
    "http://example.test:8080/http://127.0.0.1/",
    "http://example.test/%2f%2flocalhost/",
    "http://example.test;localhost/",
    "http://example.test,localhost/",
    "http://example.test&localhost/",
    "http://example.test\tlocalhost/",
    "http://example.test\nlocalhost/",
    "http://example.test\r\nHost: localhost/",
    "http://example.test /localhost",
    "http:///localhost/",
    "http:/localhost/",
    "http://@localhost.example.test/",
    "http://localhost.@example.test/",
    "http://127.0.0.1%40example.test/",
    "http://example.test:80:127.0.0.1/",
    "http://example.test:localhost/",
    "https://127.0.0.1.example.test:443/",
    "https://localhost.example.test:8443/localhost",
    "ftp://localhost.example.test/",
]

# Hosts that are loopback in every client that accepts them: each must go direct.
LOOPBACK_HOSTS = [
    "127.0.0.1",
    "127.0.0.2",
    "127.255.255.254",
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f000001",
    "0x7f.1",
    "0177.0.0.1",
    "017700000001",
    "127.000.000.001",
    "0.0.0.0",
    "localhost",
    "LOCALHOST",
    "LocalHost",
    "localhost.",
    "app.localhost",
    "a.b.localhost",
    "app.localhost.",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[0::1]",
    "[::0:1]",
    "[::1%25lo]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::ffff:127.1.2.3]",
    "[::]",
]

# NOTE: activation appends "localhost", ".localhost", "127.0.0.1" and "::1" to
# NO_PROXY when a proxy variable is set. The urllib and requests patches decide
# hosts that are not loopback against the user's own value, but httpx reads the
# extended value in Client() and matches its ".localhost" pattern against
# "a..localhost". That name has an empty label, which resolvers reject.
NO_PROXY_SUFFIX_GAPS = [
    ("httpx-env", "a..localhost"),
]

# Loopback spellings requested for real: (host text, index of the origin it reaches).
# 0.0.0.0 and :: reach the 127.0.0.1 and ::1 listeners on Linux; names under
# .localhost are left out because glibc without nss-myhostname does not resolve them.
REAL_LOOPBACK_HOSTS = [
    ("127.0.0.1", 0),
    ("127.1", 0),
    ("2130706433", 0),
    ("0x7f000001", 0),
    ("0177.0.0.1", 0),
    ("localhost", 0),
    ("LOCALHOST", 0),
    ("0.0.0.0", 0),
    ("[::ffff:127.0.0.1]", 0),
    ("127.0.0.2", 1),
    ("127.0.2", 1),
    ("[::1]", 2),
    ("[0:0:0:0:0:0:0:1]", 2),
    ("[::]", 2),
]


# Loopback text percent-encoded in the host: loopback only for a client that decodes it.
PERCENT_ENCODED_LOOPBACK_URLS = [
    "http://127.0.0.%31/",
    "http://%31%32%37.0.0.1/",
    "http://%6cocalhost/",
    "http://LOCALHOS%54/",
    "http://[::%31]/",
]


def not_loopback_urls() -> list[str]:
    urls = list(NOT_LOOPBACK_URLS)
    for host in NOT_LOOPBACK_HOSTS:
        urls.append("http://%s/" % host)
        urls.append("https://%s:8443/path" % host)
    return urls


def all_urls() -> list[str]:
    return not_loopback_urls() + loopback_urls() + PERCENT_ENCODED_LOOPBACK_URLS


def loopback_urls() -> list[str]:
    urls = []
    for host in LOOPBACK_HOSTS:
        urls.append("http://%s/" % host)
        urls.append("https://%s:8443/path?q=1" % host)
        urls.append("http://user:pw@%s:8080/" % host)
    return urls


# The host each client connects to.


def connect_host_urllib(url: str) -> str | None:
    # urlopen connects to http.client's parse of Request.host (percent-decoded,
    # userinfo kept, so "user@host" makes getaddrinfo look up that whole text).
    try:
        host = urllib.request.Request(url).host
    except ValueError:
        return None
    if not host:
        return None
    try:
        connection = http.client.HTTPConnection(host)
        connection._validate_host(connection.host)  # type: ignore[attr-defined]
    except http.client.InvalidURL:
        return None
    return socket_host(connection.host)


def connect_host_urllib3(url: str) -> str | None:
    try:
        host = parse_url(url).host
    except urllib3.exceptions.LocationParseError:
        return None
    if not host:
        return None
    # HTTPConnectionPool strips the brackets, HTTPConnection the trailing dots
    # (its _dns_host), and create_connection rejects what IDNA cannot encode.
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return socket_host(host.rstrip("."))


def connect_host_requests(url: str) -> str | None:
    try:
        prepared = requests.Request("GET", url).prepare()
    except (requests.RequestException, ValueError):
        return None
    return connect_host_urllib3(prepared.url or "")


def connect_host_httpx(url: str) -> str | None:
    try:
        host = httpx.URL(url).host
    except httpx.InvalidURL:
        return None
    return host or None


def connect_host_aiohttp(url: str) -> str | None:
    try:
        host = yarl.URL(url).raw_host
    except ValueError:
        return None
    return socket_host(host) if host else None


def aiohttp_rejects(url: str) -> bool:
    # aiohttp 3.14 TCPConnector._resolve_host raises for numeric IPv4 spellings
    # other than the dotted quad ("127.1", "2130706433") instead of connecting.
    host = yarl.URL(url).raw_host or ""
    is_canonical = getattr(aiohttp.helpers, "is_canonical_ipv4_address", None)
    if is_canonical is None or ":" in host or not aiohttp.helpers.is_ip_address(host):
        return False
    return not is_canonical(host)


def is_loopback_connect_host(host: str | None) -> bool:
    return host is not None and oracle_is_loopback_host("[%s]" % host if ":" in host else host)


# The decision each client takes, with the trap proxy configured: True for direct,
# False for the proxy, None when the client rejects the URL before deciding.


def decide_urllib(url: str) -> bool | None:
    request = urllib.request.Request(url)
    if not request.host:
        return None
    before = request.host
    handler = urllib.request.ProxyHandler({"http": TRAP_URL, "https": TRAP_URL})
    handler.proxy_open(request, TRAP_URL, request.type)
    proxied = request.host != before or request._tunnel_host  # type: ignore[attr-defined]
    return not proxied


def _requests_pool_is_direct(prepared: requests.PreparedRequest, proxies: dict[str, str]) -> bool:
    adapter = requests.adapters.HTTPAdapter()
    try:
        pool = adapter.get_connection_with_tls_context(prepared, True, proxies)
        request_line_url = adapter.request_url(prepared, proxies)
    finally:
        adapter.close()
    direct = pool.proxy is None
    # Origin form ("/path") goes with a direct pool, absolute form with a proxy.
    assert direct == (not request_line_url.startswith(("http:", "https:"))), prepared.url
    return direct


def decide_requests_explicit(url: str) -> bool | None:
    try:
        prepared = requests.Request("GET", url).prepare()
    except (requests.RequestException, ValueError):
        return None
    return _requests_pool_is_direct(prepared, {"http": TRAP_URL, "https": TRAP_URL})


def decide_requests_environ(url: str) -> bool | None:
    try:
        prepared = requests.Request("GET", url).prepare()
    except (requests.RequestException, ValueError):
        return None
    with requests.Session() as session:
        settings = session.merge_environment_settings(prepared.url, {}, None, None, None)
    return _requests_pool_is_direct(prepared, settings["proxies"])


def decide_urllib3(url: str) -> bool | None:
    manager = urllib3.ProxyManager(TRAP_URL)
    try:
        pool = manager.connection_from_url(url)
    except (urllib3.exceptions.LocationParseError, urllib3.exceptions.LocationValueError):
        return None
    finally:
        manager.clear()
    return pool.proxy is None


_httpx_clients: dict[str, httpx.Client] = {}


def _httpx_decide(url: str, client: httpx.Client) -> bool | None:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return None
    transport = client._transport_for_url(parsed)
    return transport is client._transport


def decide_httpx_explicit(url: str) -> bool | None:
    return _httpx_decide(url, _httpx_clients["explicit"])


def decide_httpx_environ(url: str) -> bool | None:
    return _httpx_decide(url, _httpx_clients["environ"])


def decide_aiohttp_explicit(url: str) -> bool | None:
    try:
        parsed = yarl.URL(url)
    except ValueError:
        return None

    async def build_request() -> bool:
        request = ClientRequest(
            "GET", parsed, loop=asyncio.get_running_loop(), proxy=yarl.URL(TRAP_URL)
        )
        return request.proxy is None

    return asyncio.run(build_request())


def decide_aiohttp_environ(url: str) -> bool | None:
    try:
        parsed = yarl.URL(url)
    except ValueError:
        return None
    try:
        aiohttp.client.get_env_proxy_for_url(parsed)
    except LookupError:
        return True
    return False


@dataclass(frozen=True)
class Client:
    name: str
    # The loopback_shim module whose patch makes this client send loopback direct.
    patch_module: str
    connect_host: Callable[[str], str | None]
    decide: Callable[[str], bool | None]


CLIENTS = [
    Client("urllib", "_patch_urllib", connect_host_urllib, decide_urllib),
    Client("requests", "_patch_requests", connect_host_requests, decide_requests_explicit),
    Client("requests-env", "_patch_requests", connect_host_requests, decide_requests_environ),
    Client("urllib3", "_patch_urllib3", connect_host_urllib3, decide_urllib3),
    Client("httpx", "_patch_httpx", connect_host_httpx, decide_httpx_explicit),
    Client("httpx-env", "_patch_httpx", connect_host_httpx, decide_httpx_environ),
    Client("aiohttp", "_patch_aiohttp", connect_host_aiohttp, decide_aiohttp_explicit),
    # aiohttp binds urllib's proxy_bypass by name, so the urllib patch covers it.
    Client("aiohttp-env", "_patch_urllib", connect_host_aiohttp, decide_aiohttp_environ),
]
CLIENT_NAMES = [client.name for client in CLIENTS]


def format_rows(rows: list[tuple[Any, ...]]) -> str:
    return "\n".join("  ".join(repr(item) for item in row) for row in rows)


def patch_exists(client: Client) -> bool:
    return importlib.util.find_spec("loopback_shim." + client.patch_module) is not None


def proxy_variables(trap_url: str) -> dict[str, str]:
    variables = {}
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        variables[name] = trap_url
        variables[name.upper()] = trap_url
    return variables


@contextlib.contextmanager
def environ_set(variables: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def decide_all(urls: list[str], variables: dict[str, str]) -> dict[tuple[str, str], Any]:
    """Return each client's decision for each URL, or the exception it raised."""
    decisions: dict[tuple[str, str], Any] = {}
    with environ_set(variables):
        _httpx_clients["explicit"] = httpx.Client(proxy=TRAP_URL)
        _httpx_clients["environ"] = httpx.Client()
        try:
            for client in CLIENTS:
                for url in urls:
                    try:
                        decisions[client.name, url] = client.decide(url)
                    except Exception as exc:
                        decisions[client.name, url] = exc
        finally:
            for httpx_client in _httpx_clients.values():
                httpx_client.close()
            _httpx_clients.clear()
    return decisions


@dataclass
class Decisions:
    stock: dict[tuple[str, str], Any]
    shim: dict[tuple[str, str], Any]


@pytest.fixture(scope="module")
def decisions(trap: RunningServer) -> Iterator[Decisions]:
    global TRAP_URL
    TRAP_URL = trap.url.rstrip("/")
    urls = all_urls()
    # The user's proxy variables, as a process of theirs starts with them.
    user_environ = dict(proxy_variables(TRAP_URL), LOOPBACK_SHIM_DISABLE="")
    with environ_set(user_environ):
        stock = decide_all(urls, {})
        # Activation extends NO_PROXY in os.environ and records the values it
        # replaced, exactly as at start-up.
        loopback_shim.activate()
        try:
            shim = decide_all(urls, {})
        finally:
            loopback_shim.deactivate()
    yield Decisions(stock, shim)


def test_tables_are_large_enough():
    assert len(not_loopback_urls()) >= 100
    assert len(loopback_urls()) >= 50


def harmful_decisions(decisions: Decisions, client: Client) -> list[tuple[str, str | None]]:
    """Return the URLs the shim sends direct whose connect host is not loopback."""
    harmful = []
    for url in all_urls():
        connect_host = client.connect_host(url)
        if is_loopback_connect_host(connect_host):
            continue
        shim = decisions.shim[client.name, url]
        if shim is True and decisions.stock[client.name, url] is not True:
            harmful.append((url, connect_host))
    return harmful


@functools.cache
def known_gap_urls(client: Client) -> list[str]:
    hosts = [host for name, host in NO_PROXY_SUFFIX_GAPS if name == client.name]
    urls = [url for url in all_urls() if any("//%s/" % host in url for host in hosts)]
    urls += [url for url in all_urls() if any("//%s:" % host in url for host in hosts)]
    return sorted(set(urls))


@pytest.mark.parametrize("client", CLIENTS, ids=CLIENT_NAMES)
def test_direct_only_for_loopback_connect_host(decisions, client):
    harmful = harmful_decisions(decisions, client)
    unexpected = [row for row in harmful if row[0] not in known_gap_urls(client)]
    assert unexpected == [], "sent direct, connect host not loopback:\n" + format_rows(unexpected)


@pytest.mark.parametrize("client", CLIENTS, ids=CLIENT_NAMES)
def test_no_proxy_suffix_gaps_are_current(decisions, client):
    # Each known gap still exists; when one closes, remove it from the table.
    harmful_urls = [url for url, _ in harmful_decisions(decisions, client)]
    assert sorted(harmful_urls) == known_gap_urls(client)


@pytest.mark.parametrize("client", CLIENTS, ids=CLIENT_NAMES)
def test_non_loopback_keeps_stock_decision(decisions, client):
    # A URL whose connect host is not loopback gets exactly the stock decision,
    # including the same exception type when the stock client raises.
    changed = []
    for url in all_urls():
        if is_loopback_connect_host(client.connect_host(url)) or url in known_gap_urls(client):
            continue
        stock = decisions.stock[client.name, url]
        shim = decisions.shim[client.name, url]
        if isinstance(stock, Exception) or isinstance(shim, Exception):
            if type(stock) is not type(shim):
                changed.append((url, repr(stock), repr(shim)))
        elif stock != shim:
            changed.append((url, stock, shim))
    assert changed == [], "decision differs from stock:\n" + format_rows(changed)


@pytest.mark.parametrize("client", CLIENTS, ids=CLIENT_NAMES)
def test_stock_client_proxies_non_loopback(decisions, client):
    # The trap proxy really is in effect: without the shim, a plain name is proxied.
    assert decisions.stock[client.name, "http://example.test/"] is False
    assert decisions.stock[client.name, "http://127.0.0.2/"] is False


@pytest.mark.parametrize("client", CLIENTS, ids=CLIENT_NAMES)
def test_loopback_spellings_go_direct(decisions, client):
    if not patch_exists(client):
        pytest.skip("loopback_shim.%s does not exist yet" % client.patch_module)
    missed = []
    checked = 0
    for url in loopback_urls():
        connect_host = client.connect_host(url)
        if not is_loopback_connect_host(connect_host):
            # The client rejects this spelling, or connects elsewhere: urlopen keeps
            # "user:pw@" in the host it looks up.
            continue
        checked += 1
        if decisions.shim[client.name, url] is not True:
            missed.append((url, connect_host, decisions.shim[client.name, url]))
    assert missed == [], "loopback not sent direct:\n" + format_rows(missed)
    assert checked >= 40, "loopback not sent direct:\n" + format_rows(missed)


@pytest.mark.parametrize("client", CLIENTS, ids=CLIENT_NAMES)
def test_percent_encoded_loopback_follows_connect_host(decisions, client):
    # urlopen percent-decodes Request.host and connects to 127.0.0.1, so it goes
    # direct; urllib3, requests and httpx keep "%31" and resolve a name, so the
    # stock decision (the proxy) stays.
    if not patch_exists(client):
        pytest.skip("loopback_shim.%s does not exist yet" % client.patch_module)
    for url in PERCENT_ENCODED_LOOPBACK_URLS:
        expected = is_loopback_connect_host(client.connect_host(url))
        assert decisions.shim[client.name, url] is expected, url


# Real requests: each loopback spelling, each client, the trap proxy configured.


def request_urllib(url: str) -> dict[str, Any]:
    handler = urllib.request.ProxyHandler({"http": TRAP_URL})
    opener = urllib.request.build_opener(handler)
    with opener.open(url, timeout=TIMEOUT) as response:
        return json.loads(response.read())


def request_requests(url: str) -> dict[str, Any]:
    with requests.Session() as session:
        session.trust_env = False
        proxies = {"http": TRAP_URL}
        return session.get(url, proxies=proxies, timeout=TIMEOUT).json()


def request_urllib3(url: str) -> dict[str, Any]:
    with urllib3.ProxyManager(TRAP_URL) as manager:
        response = manager.request("GET", url, timeout=TIMEOUT, retries=False)
        return json.loads(response.data)


def request_httpx(url: str) -> dict[str, Any]:
    with httpx.Client(proxy=TRAP_URL, trust_env=False, timeout=TIMEOUT) as client:
        return client.get(url).json()


def request_aiohttp(url: str) -> dict[str, Any]:
    async def fetch() -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with aiohttp.ClientSession(trust_env=True, timeout=timeout) as session:
            async with session.get(url) as response:
                return await response.json()

    with environ_set({"http_proxy": TRAP_URL}):
        return asyncio.run(fetch())


REAL_CLIENTS = {
    "urllib": (request_urllib, "_patch_urllib"),
    "requests": (request_requests, "_patch_requests"),
    "urllib3": (request_urllib3, "_patch_urllib3"),
    "httpx": (request_httpx, "_patch_httpx"),
    "aiohttp-env": (request_aiohttp, "_patch_urllib"),
}


@pytest.fixture
def shim_active() -> Iterator[None]:
    loopback_shim.activate()
    try:
        yield
    finally:
        loopback_shim.deactivate()


@pytest.mark.parametrize("client_name", sorted(REAL_CLIENTS))
def test_loopback_spellings_reach_origin(client_name, origins, trap, shim_active):
    request, patch_module = REAL_CLIENTS[client_name]
    if importlib.util.find_spec("loopback_shim." + patch_module) is None:
        pytest.skip("loopback_shim.%s does not exist yet" % patch_module)
    connect_host = next(client.connect_host for client in CLIENTS if client.name == client_name)
    results = {}
    expected = {}
    trap.clear()
    for host, origin_index in REAL_LOOPBACK_HOSTS:
        if origin_index >= len(origins):
            continue  # no IPv6 on this machine
        origin = origins[origin_index]
        url = "http://%s:%d/spelling" % (host, origin.port)
        rejected = client_name.startswith("aiohttp") and aiohttp_rejects(url)
        if connect_host(url) is None or rejected:
            continue  # the client rejects this spelling, shim or not
        expected[host] = ("origin", origin.server.name, "GET /spelling HTTP/1.1")
        try:
            answer = request(url)
            results[host] = (answer.get("via"), answer.get("origin"), answer.get("request_line"))
        except Exception as exc:
            results[host] = ("error", type(exc).__name__, str(exc)[:200])
    assert trap.requests == []
    assert results == expected
    assert len(expected) >= 8
