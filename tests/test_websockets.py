"""WebSocket clients: loopback goes direct while the proxy variables point at the trap.

python-websockets 15+ picks a proxy with ``urllib.request.getproxies()`` and
``urllib.request.proxy_bypass("host:port")``, looked up on the module at each
connection, so the shim's urllib patch decides for it. aiohttp's ``ws_connect``
goes through ``ClientSession._request`` like any other request. Each run starts a
websockets server on loopback inside the test interpreter.
"""

from __future__ import annotations

import pytest
from environments import clean_environ
from servers import ipv6_available
from test_httpx import trap_environ

WEBSOCKET_SCRIPT = """
import json
import os
import socket
import sys
import threading

from websockets.sync.server import serve

import clients


def handler(websocket):
    line = "GET %s" % websocket.request.path
    websocket.send(json.dumps({"via": "origin", "request_line": line}))


hosts = sys.argv[1].split(",")
names = sys.argv[2].split(",")
urls = []
for host in hosts:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = serve(handler, sock=socket.create_server((host, 0), family=family))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.socket.getsockname()[1]
    netloc = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
    urls.append("ws://%s/path?q=1" % netloc)
    if host == "127.0.0.1":
        urls.append("ws://localhost:%d/path?q=1" % port)

if os.environ.get("TEST_SYSTEM_PROXY"):
    # macOS and Windows: getproxies() returns the system settings, and no NO_PROXY.
    import urllib.request

    trap = os.environ["TEST_TRAP_PROXY"]
    urllib.request.getproxies = lambda: {"http": trap, "https": trap}

args = []
for name in names:
    for url in urls:
        args += [name, url]
clients.main(args)
"""

WEBSOCKET_CLIENTS = "websockets,aiohttp_ws_connect,aiohttp_ws_connect_explicit"


def loopback_hosts():
    return "127.0.0.1,127.0.0.2" + (",::1" if ipv6_available() else "")


def websocket_environ(trap, no_proxy=None):
    # aiohttp takes the proxy of a ws:// URL from ws_proxy only (3.8 to 3.14).
    proxy_url = trap.url.rstrip("/")
    return trap_environ(trap, no_proxy, ws_proxy=proxy_url, WS_PROXY=proxy_url)


def assert_all_direct(results):
    assert results
    for result in results:
        assert result["via"] == "origin", result
        assert result["request_line"] == "GET /path?q=1", result


@pytest.mark.parametrize("no_proxy", [None, "127.*,localhost", "localhost, 127.0.0.1, [::1]"])
def test_websockets_loopback_direct(shim_env, trap, no_proxy):
    args = ["-c", WEBSOCKET_SCRIPT, loopback_hosts(), WEBSOCKET_CLIENTS]
    assert_all_direct(shim_env.run_json(args, env=websocket_environ(trap, no_proxy)))


def test_stock_websockets_use_proxy(stock_env, trap):
    # 127.0.0.2 matches no NO_PROXY entry, so stock clients go to the trap, which
    # rejects CONNECT and responds to a proxied GET with JSON, not a handshake.
    trap.clear()
    args = ["-c", WEBSOCKET_SCRIPT, "127.0.0.2", WEBSOCKET_CLIENTS]
    results = stock_env.run_json(args, env=websocket_environ(trap, "127.*,localhost"))
    for result in results:
        assert result["via"] == "error", result
    # websockets tunnels with CONNECT; aiohttp sends GET ws://... in absolute form.
    connects = [line for line in trap.requests if line.startswith("CONNECT 127.0.0.2:")]
    gets = [line for line in trap.requests if line.startswith("GET ws://127.0.0.2:")]
    assert len(connects) == 1, trap.requests
    assert len(gets) == 2, trap.requests


def test_websockets_system_proxy_loopback_direct(shim_env, stock_env, trap):
    # websockets asks proxy_bypass("::1:port") for ws://[::1]:port. The servers'
    # ephemeral ports have five digits, so that text is no IPv6 address and the
    # shim reads it as ::1 and a port.
    # NOTE: with a port below 10000 ("::1:8080", also the address 0::1:8080) the
    # shim cannot tell, and the system proxy decides.
    # aiohttp is left out: it reads no ws:// proxy from getproxies() without "ws".
    args = ["-c", WEBSOCKET_SCRIPT, "127.0.0.1,127.0.0.2,::1", "websockets"]
    env = clean_environ(TEST_SYSTEM_PROXY="1", TEST_TRAP_PROXY=trap.url.rstrip("/"))

    assert_all_direct(shim_env.run_json(args, env=env))
    for result in stock_env.run_json(args, env=env):
        assert result["via"] == "error", result
