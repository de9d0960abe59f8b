"""Loopback servers for the end-to-end benchmark, in a process of their own.

``python loopback_server.py`` starts an HTTP/1.1 origin that responds to every GET
with a short body, and a slow proxy that accepts connections and never responds,
both on 127.0.0.1. It prints their ports as one JSON line and serves until stdin closes.
Running them outside the client's process keeps the server's work off the client's
interpreter lock.
"""

from __future__ import annotations

import http.server
import json
import socket
import sys
import threading

BODY = b'{"via": "origin"}'


class OriginHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Send status, headers and body in one segment: written in two, the second
    # waits for the client's delayed ACK (40 ms on Linux) on a kept-alive connection.
    wbufsize = -1
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


class OriginServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def hold_connections(listener: socket.socket) -> None:
    """Accept every connection and keep it open without reading or responding."""
    open_connections = []
    while True:
        connection, _ = listener.accept()
        open_connections.append(connection)


def main() -> None:
    origin = OriginServer(("127.0.0.1", 0), OriginHandler)
    threading.Thread(target=origin.serve_forever, daemon=True).start()

    slow_proxy = socket.socket()
    slow_proxy.bind(("127.0.0.1", 0))
    slow_proxy.listen(128)
    threading.Thread(target=hold_connections, args=(slow_proxy,), daemon=True).start()

    ports = {"origin": origin.server_address[1], "slow_proxy": slow_proxy.getsockname()[1]}
    print(json.dumps(ports), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
