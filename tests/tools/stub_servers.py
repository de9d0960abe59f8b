"""Loopback stand-ins for the remote ends of the tools in test_tools.py.

Each server runs in the pytest process on a loopback address and records what
reached it, so a test can show that a tool talked to it directly:

- an S3 stub that returns a ListAllMyBuckets document for every request, with
  the request line it received as the owner's display name;
- a PEP 503 simple index served from a directory by ``http.server``;
- a WebSocket echo server with a raw RFC 6455 handshake, standard library only.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import socket
import socketserver
import struct
import threading
import zipfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

# RFC 6455 section 1.3: the server hashes the client's key with this GUID.
_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

_LIST_BUCKETS_XML = """<?xml version="1.0" encoding="UTF-8"?>
<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Owner><ID>stub-owner</ID><DisplayName>{request_line}</DisplayName></Owner>
<Buckets><Bucket><Name>{bucket}</Name><CreationDate>2026-01-01T00:00:00.000Z</CreationDate>
</Bucket></Buckets></ListAllMyBucketsResult>
"""


class _ThreadingHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _ThreadingHTTPServer6(_ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _ThreadingTCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _ThreadingTCPServer6(_ThreadingTCPServer):
    address_family = socket.AF_INET6


class StubServer:
    """A server thread on one loopback address, with the request lines it received."""

    def __init__(self, host: str, server_classes: tuple[type, type], handler: Any) -> None:
        server_class = server_classes[1] if ":" in host else server_classes[0]
        self.server = server_class((host, 0), handler)
        self.server.requests = []
        self.host = host
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self.thread.start()

    @property
    def requests(self) -> list[str]:
        return list(self.server.requests)

    @property
    def netloc(self) -> str:
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s:%d" % (host, self.port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _S3Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.requests.append(self.requestline)
        bucket = "stub-" + self.server.server_address[0].replace(".", "-").replace(":", "-")
        body = _LIST_BUCKETS_XML.format(request_line=escape(self.requestline), bucket=bucket)
        encoded = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    do_GET = do_POST = do_PUT = do_HEAD = _answer


def start_s3_stub(host: str) -> StubServer:
    return StubServer(host, (_ThreadingHTTPServer, _ThreadingHTTPServer6), _S3Handler)


class _IndexHandler(http.server.SimpleHTTPRequestHandler):
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_head(self) -> Any:
        self.server.requests.append(self.requestline)
        return super().send_head()


def start_simple_index(host: str, root: Path) -> StubServer:
    handler = functools.partial(_IndexHandler, directory=str(root))
    return StubServer(host, (_ThreadingHTTPServer, _ThreadingHTTPServer6), handler)


def write_simple_index(root: Path, projects: list[str], version: str = "1.0") -> None:
    """Write a PEP 503 index under ``root/simple`` with one small wheel per project.

    Each wheel is a valid, pure-Python wheel (METADATA, WHEEL and RECORD, plus one
    module) built with zipfile, so that no build backend has to be installed.
    """
    packages = root / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    (root / "simple").mkdir(exist_ok=True)
    links = []
    for project in projects:
        wheel = build_probe_wheel(packages, project, version)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        project_dir = root / "simple" / project
        project_dir.mkdir(exist_ok=True)
        (project_dir / "index.html").write_text(
            "<!DOCTYPE html>\n<html><body>\n"
            '<a href="../../packages/%s#sha256=%s">%s</a>\n'
            "</body></html>\n" % (wheel.name, digest, wheel.name)
        )
        links.append('<a href="%s/">%s</a>' % (project, project))
    (root / "simple" / "index.html").write_text(
        "<!DOCTYPE html>\n<html><body>\n%s\n</body></html>\n" % "\n".join(links)
    )


def build_probe_wheel(out_dir: Path, project: str, version: str) -> Path:
    distribution = project.replace("-", "_")
    dist_info = "%s-%s.dist-info" % (distribution, version)
    files = {
        "%s.py" % distribution: "VERSION = %r\n" % version,
        dist_info + "/METADATA": (
            "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (project, version)
        ),
        dist_info + "/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: loopback-shim-tests\n"
            "Root-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record_lines = []
    for name, text in files.items():
        digest = hashlib.sha256(text.encode()).digest()
        encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        record_lines.append("%s,sha256=%s,%d" % (name, encoded, len(text.encode())))
    record_lines.append(dist_info + "/RECORD,,")
    files[dist_info + "/RECORD"] = "\n".join(record_lines) + "\n"

    wheel = out_dir / ("%s-%s-py3-none-any.whl" % (distribution, version))
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


class _WebSocketEchoHandler(socketserver.StreamRequestHandler):
    """Complete one RFC 6455 handshake, then echo text and binary frames until close."""

    server: Any

    def handle(self) -> None:
        request_line = self.rfile.readline(65537).decode("latin-1").rstrip("\r\n")
        headers = {}
        while True:
            line = self.rfile.readline(65537).decode("latin-1").rstrip("\r\n")
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.server.requests.append(request_line)
        key = headers.get("sec-websocket-key")
        if not request_line.startswith("GET ") or key is None:
            self.wfile.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        accept = base64.b64encode(hashlib.sha1((key + _WEBSOCKET_GUID).encode()).digest())
        self.wfile.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        while True:
            frame = self._read_frame()
            if frame is None:
                return
            opcode, payload = frame
            if opcode == 0x8:  # close: send a close frame back and stop
                self._write_frame(0x8, payload[:2])
                return
            if opcode == 0x9:  # ping
                self._write_frame(0xA, payload)
            elif opcode in (0x1, 0x2):
                self._write_frame(opcode, payload)

    def _read_exactly(self, size: int) -> bytes | None:
        data = self.rfile.read(size)
        return data if len(data) == size else None

    def _read_frame(self) -> tuple[int, bytes] | None:
        header = self._read_exactly(2)
        if header is None:
            return None
        opcode = header[0] & 0x0F
        masked = header[1] & 0x80
        length = header[1] & 0x7F
        if length == 126:
            extended = self._read_exactly(2)
            if extended is None:
                return None
            (length,) = struct.unpack("!H", extended)
        elif length == 127:
            extended = self._read_exactly(8)
            if extended is None:
                return None
            (length,) = struct.unpack("!Q", extended)
        mask = self._read_exactly(4) if masked else b"\0\0\0\0"
        payload = self._read_exactly(length)
        if mask is None or payload is None:
            return None
        unmasked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        return opcode, unmasked

    def _write_frame(self, opcode: int, payload: bytes) -> None:
        # Server frames are never masked (RFC 6455 section 5.1).
        if len(payload) < 126:
            header = struct.pack("!BB", 0x80 | opcode, len(payload))
        elif len(payload) < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 126, len(payload))
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, len(payload))
        self.wfile.write(header + payload)


def start_websocket_echo(host: str) -> StubServer:
    return StubServer(host, (_ThreadingTCPServer, _ThreadingTCPServer6), _WebSocketEchoHandler)


__all__ = [
    "StubServer",
    "build_probe_wheel",
    "start_s3_stub",
    "start_simple_index",
    "start_websocket_echo",
    "write_simple_index",
]
