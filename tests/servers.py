"""Real servers for the tests: loopback origins and a trap proxy.

An origin answers every request with a JSON body that names it and echoes the
request line it received, so a test can tell origin form ("GET /path") from the
absolute form a client sends to a proxy. The trap proxy records every request
line that reaches it and answers 200 with ``{"via": "trap-proxy"}``, or refuses
CONNECT, so that a request sent to it is never forwarded anywhere. For a path
under ``/redirect/`` it answers a 302 itself, like the origins do.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import urllib.parse
from typing import Any


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _OriginHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.requests.append(self.requestline)
        if self.path.startswith("/redirect/"):
            # /redirect/<url-without-scheme> answers 302 to http://<that>.
            location = "http://" + self.path[len("/redirect/") :]
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps(
            {
                "via": "origin",
                "origin": self.server.name,
                "request_line": self.requestline,
                "proxy_authorization": self.headers.get("Proxy-Authorization"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = _answer


class _TrapHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        self.server.requests.append(self.requestline)
        if self.command == "CONNECT":
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/redirect/"):
            # GET http://<any host>/redirect/<url-without-scheme> gets a 302 to
            # http://<that>, so a proxied first hop redirects to a loopback origin
            # without any server off this machine. The path is unquoted, because
            # clients percent-encode the brackets of "[::1]:port".
            location = "http://" + urllib.parse.unquote(path[len("/redirect/") :])
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps(
            {
                "via": "trap-proxy",
                "request_line": self.requestline,
                "proxy_authorization": self.headers.get("Proxy-Authorization"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_CONNECT = _answer


class RunningServer:
    """A server thread with the request lines it has received."""

    def __init__(self, name: str, host: str, handler: type) -> None:
        server_class = _Server6 if ":" in host else _Server
        self.server = server_class((host, 0), handler)
        self.server.name = name
        self.server.requests = []
        self.host = host
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def requests(self) -> list[str]:
        return self.server.requests

    @property
    def netloc(self) -> str:
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s:%d" % (host, self.port)

    @property
    def url(self) -> str:
        return "http://%s/" % self.netloc

    def clear(self) -> None:
        del self.server.requests[:]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_origin(name: str, host: str) -> RunningServer:
    return RunningServer(name, host, _OriginHandler)


def start_trap_proxy() -> RunningServer:
    return RunningServer("trap-proxy", "127.0.0.1", _TrapHandler)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


__all__ = ["RunningServer", "free_port", "ipv6_available", "start_origin", "start_trap_proxy"]
