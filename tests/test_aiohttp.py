"""aiohttp: loopback goes direct with environment proxies, proxy= and on redirects.

Each test runs real aiohttp in a venv (the shim installed, stock, or stock with the
shim injected by PYTHONPATH) against the loopback origins and the trap proxy.
Non-loopback hosts are only ever sent to the trap proxy or compared as proxy
decisions, never connected to.
"""

from __future__ import annotations

import json

import pytest
from environments import clean_environ, proxy_environ
from test_httpx import (
    NO_PROXY_SPELLINGS,
    NON_LOOPBACK_URLS,
    SYSTEM_PROXY_SCRIPT,
    assert_all_direct,
    client_args,
    loopback_urls,
    trap_environ,
)

# aiohttp_session reads proxies from the environment (trust_env=True); the others
# pass proxy= to ClientSession.get and to aiohttp.request.
AIOHTTP_CLIENTS = ["aiohttp_session", "aiohttp_explicit", "aiohttp_request"]


@pytest.mark.parametrize("no_proxy", NO_PROXY_SPELLINGS)
def test_aiohttp_loopback_direct(shim_env, origins, trap, no_proxy):
    args = client_args(AIOHTTP_CLIENTS, loopback_urls(origins))
    assert_all_direct(shim_env.run_json(args, env=trap_environ(trap, no_proxy)))


def test_aiohttp_injected_loopback_direct(stock_env, repo, origins, trap):
    args = client_args(AIOHTTP_CLIENTS, loopback_urls(origins))
    env = trap_environ(trap, "127.*,localhost", PYTHONPATH=str(repo))
    assert_all_direct(stock_env.run_json(args, env=env))


def test_stock_aiohttp_sends_loopback_to_proxy(stock_env, origins, trap):
    url = origins[1].url + "path?q=1"
    results = stock_env.run_json(client_args(AIOHTTP_CLIENTS, [url]), env=trap_environ(trap))
    for result in results:
        assert result["via"] == "trap-proxy", result
        assert result["request_line"].startswith("GET http://127.0.0.2:"), result


def test_aiohttp_redirect_to_loopback_direct(shim_env, stock_env, origins, trap):
    # The first hop goes through the trap proxy, which responds with a 302 to an
    # origin (the path of its request line, without the query).
    target = origins[1].netloc + "/path"
    args = client_args(AIOHTTP_CLIENTS, ["http://redirect.example.test/redirect/" + target])
    env = trap_environ(trap)

    assert_all_direct(shim_env.run_json(args, env=env), path="/path")
    for result in stock_env.run_json(args, env=env):
        assert result["via"] == "trap-proxy", result
        assert result["request_line"] == "GET http://%s HTTP/1.1" % target, result


def test_aiohttp_system_proxy_loopback_direct(shim_env, stock_env, origins, trap):
    url = origins[0].url + "path?q=1"
    args = ["-c", SYSTEM_PROXY_SCRIPT, trap.url.rstrip("/")]
    args += client_args(["aiohttp_session"], [url])[1:]
    env = clean_environ()

    assert_all_direct(shim_env.run_json(args, env=env))
    for result in stock_env.run_json(args, env=env):
        assert result["via"] == "trap-proxy", result


PROXY_DECISION_SCRIPT = """
import asyncio
import json
import os
import sys

import aiohttp

trap, urls, no_proxy_values = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])


class Recorded(Exception):
    pass


class RecordingConnector(aiohttp.TCPConnector):
    # Stops each request where the connector would connect, with its proxy.
    async def connect(self, req, *args, **kwargs):
        raise Recorded(str(req.proxy) if req.proxy is not None else "direct")


async def decide(url, trust_env, options):
    async with aiohttp.ClientSession(
        connector=RecordingConnector(), trust_env=trust_env
    ) as session:
        try:
            await session.get(url, **options)
        except Recorded as recorded:
            return str(recorded)
        except Exception as exc:
            return "raised " + type(exc).__name__
        return "connected"


async def main():
    decisions = {}
    for no_proxy in no_proxy_values:
        os.environ["NO_PROXY"] = os.environ["no_proxy"] = no_proxy
        for url in urls:
            decisions["%s|environment|%s" % (no_proxy, url)] = await decide(url, True, {})
            explicit = {"proxy": trap}
            decisions["%s|explicit|%s" % (no_proxy, url)] = await decide(url, False, explicit)
    print(json.dumps(decisions))


asyncio.run(main())
"""

COMPARED_NO_PROXY = [
    "",
    *[value for value in NO_PROXY_SPELLINGS if value is not None],
    "example.test",
    ".example.test",
    "10.0.0.1,example.test:8080",
    "localhost,[::1],::1/128",
    "*",
]


def test_aiohttp_non_loopback_decisions_as_stock(shim_env, stock_env, trap):
    args = [
        "-c",
        PROXY_DECISION_SCRIPT,
        trap.url.rstrip("/"),
        json.dumps(NON_LOOPBACK_URLS),
        json.dumps(COMPARED_NO_PROXY),
    ]
    env = proxy_environ(trap.url.rstrip("/"))
    stock = stock_env.run_json(args, env=env)
    shim = shim_env.run_json(args, env=env)

    assert stock["|environment|http://example.test/"] == trap.url.rstrip("/"), stock
    assert stock["example.test|environment|http://example.test/"] == "direct", stock
    assert stock.keys() == shim.keys()
    for key in stock:
        assert shim[key] == stock[key], key


def test_aiohttp_proxy_credentials_stay_with_proxy(shim_env, stock_env, origins, trap):
    # The proxy URL carries credentials; a loopback hop must not send them.
    proxy_url = "http://user:secret@%s" % trap.netloc
    target = origins[1].netloc + "/path"
    redirect = "http://redirect.example.test/redirect/" + target
    args = client_args(AIOHTTP_CLIENTS, [redirect])
    env = proxy_environ(proxy_url, TEST_TRAP_PROXY=proxy_url)

    for result in shim_env.run_json(args, env=env):
        assert result["via"] == "origin", result
        assert result["proxy_authorization"] is None, result
    for result in stock_env.run_json(args, env=env):
        assert result["via"] == "trap-proxy", result
        assert result["proxy_authorization"].startswith("Basic "), result
