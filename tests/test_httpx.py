"""httpx: loopback goes direct through every proxy source, and NO_PROXY never raises.

Each test runs real httpx in a venv (the shim installed, stock, or stock with the
shim injected by PYTHONPATH) against the loopback origins and the trap proxy.
Non-loopback hosts are only ever sent to the trap proxy or compared as routing
decisions, never connected to.
"""

from __future__ import annotations

import json

import pytest
from environments import clean_environ, proxy_environ

# NO_PROXY values people write; None leaves the variable unset.
NO_PROXY_SPELLINGS = [
    None,
    "127.*,localhost",
    "127.0.0.0/8,localhost",
    "localhost,127.0.0.1,::1",
    "localhost, 127.0.0.1, [::1]",
    ".localhost,127.0.0.1",
    "*.example.test",
    "LOCALHOST",
]

# Stock httpx 0.24.1 to 0.29.0 raise InvalidURL in Client() for each of these.
INVALID_FOR_HTTPX = ["localhost,[::1]", "[::1]:8080", "::1/128", "fd07:b51a:cc66:f0::/64"]

ENV_CLIENTS = ["httpx_get", "httpx_client", "httpx_async"]
EXPLICIT_CLIENTS = [
    "httpx_get_explicit",
    "httpx_client_explicit",
    "httpx_async_explicit",
    "httpx_client_proxy_transport",
]


def loopback_urls(origins):
    return [origin.url + "path?q=1" for origin in origins] + [
        "http://localhost:%d/path?q=1" % origins[0].port
    ]


def client_args(clients, urls):
    args = ["clients.py"]
    for client in clients:
        for url in urls:
            args += [client, url]
    return args


def trap_environ(trap, no_proxy=None, **overrides):
    proxy_url = trap.url.rstrip("/")
    return proxy_environ(proxy_url, no_proxy=no_proxy, TEST_TRAP_PROXY=proxy_url, **overrides)


def assert_all_direct(results, path="/path?q=1"):
    for result in results:
        assert result["via"] == "origin", result
        assert result["request_line"] == "GET %s HTTP/1.1" % path, result


@pytest.mark.parametrize("no_proxy", NO_PROXY_SPELLINGS)
def test_httpx_loopback_direct(shim_env, origins, trap, no_proxy):
    args = client_args(ENV_CLIENTS + EXPLICIT_CLIENTS, loopback_urls(origins))
    results = shim_env.run_json(args, env=trap_environ(trap, no_proxy))
    assert_all_direct(results)


@pytest.mark.parametrize("no_proxy", ["127.*,localhost", "localhost,127.0.0.1,::1"])
def test_httpx_injected_loopback_direct(stock_env, repo, origins, trap, no_proxy):
    args = client_args(ENV_CLIENTS + EXPLICIT_CLIENTS, loopback_urls(origins))
    env = trap_environ(trap, no_proxy, PYTHONPATH=str(repo))
    assert_all_direct(stock_env.run_json(args, env=env))


def test_stock_httpx_sends_loopback_to_proxy(stock_env, origins, trap):
    # 127.0.0.2 matches none of these entries in stock httpx 0.28.1.
    url = origins[1].url + "path?q=1"
    args = client_args(ENV_CLIENTS + EXPLICIT_CLIENTS, [url])
    results = stock_env.run_json(args, env=trap_environ(trap, "127.*,localhost,127.0.0.0/8"))
    for result in results:
        assert result["via"] == "trap-proxy", result
        assert result["request_line"].startswith("GET http://127.0.0.2:"), result


@pytest.mark.parametrize("no_proxy", INVALID_FOR_HTTPX)
def test_httpx_invalid_no_proxy_constructs(shim_env, stock_env, origins, trap, no_proxy):
    # Client() reads NO_PROXY even when no proxy variable is set.
    env = clean_environ(NO_PROXY=no_proxy, TEST_TRAP_PROXY=trap.url.rstrip("/"))
    args = client_args(ENV_CLIENTS, loopback_urls(origins))
    assert_all_direct(shim_env.run_json(args, env=env))

    (stock,) = stock_env.run_json(client_args(["httpx_client"], [origins[0].url]), env=env)
    assert stock["via"] == "error", stock
    assert stock["error"].startswith("InvalidURL"), stock

    args = client_args(ENV_CLIENTS + EXPLICIT_CLIENTS, loopback_urls(origins))
    assert_all_direct(shim_env.run_json(args, env=trap_environ(trap, no_proxy)))


def test_httpx_invalid_no_proxy_logged_once(shim_env, trap):
    code = "import httpx; httpx.Client(); httpx.Client(); httpx.AsyncClient()"
    env = trap_environ(trap, "localhost,[::1]", LOOPBACK_SHIM_DEBUG="1")
    stderr = shim_env.run(["-c", code], env=env).stderr
    assert stderr.count("NO_PROXY pattern 'all://*[::1]' skipped") == 1, stderr


def test_httpx_redirect_to_loopback_direct(shim_env, stock_env, origins, trap):
    # The first hop goes through the trap proxy, which responds with a 302 to an
    # origin (the path of its request line, without the query).
    target = origins[1].netloc + "/path"
    url = "http://redirect.example.test/redirect/" + target
    clients = ["httpx_client", "httpx_async"] + EXPLICIT_CLIENTS[:3]
    args = client_args(clients, [url])
    env = trap_environ(trap)

    assert_all_direct(shim_env.run_json(args, env=env), path="/path")
    for result in stock_env.run_json(args, env=env):
        assert result["via"] == "trap-proxy", result
        assert result["request_line"] == "GET http://%s HTTP/1.1" % target, result


SYSTEM_PROXY_SCRIPT = """
import sys
import urllib.request

# macOS and Windows: getproxies() returns the system settings, and no NO_PROXY.
trap = sys.argv[1]
urllib.request.getproxies = lambda: {"http": trap, "https": trap}

import clients

clients.main(sys.argv[2:])
"""


def test_httpx_system_proxy_loopback_direct(shim_env, stock_env, origins, trap):
    url = origins[0].url + "path?q=1"
    args = ["-c", SYSTEM_PROXY_SCRIPT, trap.url.rstrip("/")]
    args += client_args(ENV_CLIENTS, [url])[1:]
    env = clean_environ()

    assert_all_direct(shim_env.run_json(args, env=env))
    for result in stock_env.run_json(args, env=env):
        assert result["via"] == "trap-proxy", result


def test_httpx_mounted_mock_transport_kept(shim_env, origins, trap):
    args = client_args(["httpx_mounted_mock"], loopback_urls(origins))
    for result in shim_env.run_json(args, env=trap_environ(trap)):
        assert result["via"] == "mock", result
        assert result["request_line"] == "GET /path?q=1", result


ROUTE_SCRIPT = """
import inspect
import json
import os
import ssl
import sys

import httpx

trap, urls, no_proxy_values = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
parameter = "proxy" if "proxy" in inspect.signature(httpx.Client).parameters else "proxies"
# One SSLContext for all clients, so that each Client() skips loading the CA bundle.
ssl_context = ssl.create_default_context()


def route(client, url):
    transport = client._transport_for_url(httpx.URL(url))
    if transport is client._transport:
        return "default transport"
    pool = getattr(transport, "_pool", None)
    return "%s %r" % (type(pool).__name__, getattr(pool, "_proxy_url", None))


routes = {}
for no_proxy in no_proxy_values:
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = no_proxy
    explicit = {parameter: trap}
    for kind, options in (("environment", {}), ("explicit", explicit)):
        for client_class in (httpx.Client, httpx.AsyncClient):
            key = "%s|%s|%s" % (no_proxy, kind, client_class.__name__)
            try:
                client = client_class(verify=ssl_context, **options)
            except Exception as exc:
                routes[key] = "raised " + type(exc).__name__
                continue
            routes[key] = {url: route(client, url) for url in urls}
print(json.dumps(routes))
"""

NON_LOOPBACK_URLS = [
    "http://example.test/",
    "https://example.test/",
    "http://sub.example.test:8080/",
    "http://xlocalhost/",
    "http://localhost.example.test/",
    "http://127.0.0.1.example.test/",
    "http://10.0.0.1/",
    "http://128.0.0.1/",
    "http://[fd07:b51a:cc66:f0::1]/",
    "http://[::2]/",
]

# Values that stock httpx accepts; the shim must route non-loopback hosts the same.
COMPARED_NO_PROXY = [
    "",
    *[value for value in NO_PROXY_SPELLINGS if value not in (None, "localhost, 127.0.0.1, [::1]")],
    "example.test",
    ".example.test",
    "10.0.0.1,example.test:8080",
    "*",
]

# Each value stock httpx rejects, and the same value without the entries it rejects.
WITHOUT_INVALID_ENTRIES = {
    "localhost, 127.0.0.1, [::1]": "localhost, 127.0.0.1",
    "localhost,[::1],example.test": "localhost,example.test",
    "[::1]:8080,.example.test": ".example.test",
    "::1/128,10.0.0.1": "10.0.0.1",
    "fd07:b51a:cc66:f0::/64,xlocalhost": "xlocalhost",
}


def test_httpx_non_loopback_routes_as_stock(shim_env, stock_env, trap):
    environ = trap_environ(trap)
    urls = json.dumps(NON_LOOPBACK_URLS)
    stock_values = COMPARED_NO_PROXY + list(WITHOUT_INVALID_ENTRIES.values())
    stock_values += list(WITHOUT_INVALID_ENTRIES)
    shim_values = COMPARED_NO_PROXY + list(WITHOUT_INVALID_ENTRIES)
    trap_url = trap.url.rstrip("/")

    stock = stock_env.run_json(
        ["-c", ROUTE_SCRIPT, trap_url, urls, json.dumps(stock_values)], env=environ
    )
    shim = shim_env.run_json(
        ["-c", ROUTE_SCRIPT, trap_url, urls, json.dumps(shim_values)], env=environ
    )

    assert stock["|environment|Client"]["http://example.test/"].startswith("HTTPProxy")
    for no_proxy in COMPARED_NO_PROXY:
        for kind in ("environment", "explicit"):
            for client_class in ("Client", "AsyncClient"):
                key = "%s|%s|%s" % (no_proxy, kind, client_class)
                assert shim[key] == stock[key], key
    for invalid, valid in WITHOUT_INVALID_ENTRIES.items():
        for client_class in ("Client", "AsyncClient"):
            assert stock["%s|environment|%s" % (invalid, client_class)] == "raised InvalidURL"
            for kind in ("environment", "explicit"):
                shim_routes = shim["%s|%s|%s" % (invalid, kind, client_class)]
                stock_routes = stock["%s|%s|%s" % (valid, kind, client_class)]
                assert shim_routes == stock_routes, (invalid, kind, client_class)


def test_httpx_proxy_credentials_stay_with_proxy(shim_env, stock_env, origins, trap):
    # The proxy URL carries credentials; a loopback hop must not send them.
    proxy_url = "http://user:secret@%s" % trap.netloc
    target = origins[1].netloc + "/path"
    redirect = "http://redirect.example.test/redirect/" + target
    args = client_args(["httpx_client", "httpx_client_explicit"], [redirect])
    env = proxy_environ(proxy_url, TEST_TRAP_PROXY=proxy_url)

    for result in shim_env.run_json(args, env=env):
        assert result["via"] == "origin", result
        assert result["proxy_authorization"] is None, result
    for result in stock_env.run_json(args, env=env):
        assert result["via"] == "trap-proxy", result
        assert result["proxy_authorization"].startswith("Basic "), result
