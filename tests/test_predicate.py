"""is_loopback_host on a table of loopback spellings and of hosts that only look like them.

Each form is one that a patched client passes in: a bare name or address, an IPv6
address with or without brackets and zone, and any of these with a port.
"""

from __future__ import annotations

import socket

import pytest

from loopback_shim import is_loopback_host

LOOPBACK_NAMES = [
    "localhost",
    "LOCALHOST",
    "LocalHost",
    "localhost.",
    "LOCALHOST.",
    "a.localhost",
    "app.dev.localhost",
    "A.LOCALHOST.",
    "my-app_1.localhost",
    "localhost:8080",
    "localhost:",
    "a.localhost:80",
]
# Every spelling of 127.0.0.0/8 that inet_aton(3) accepts, and 0.0.0.0, which a
# connect() on Linux also sends to this host.
LOOPBACK_IPV4 = [
    "127.0.0.1",
    "127.0.0.2",
    "127.255.255.255",
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f000001",
    "0X7F000001",
    "0x7f.1",
    "0177.0.0.1",
    "017700000001",
    "127.000.000.001",
    "127.0.0.1:80",
    "127.1:65535",
    "0.0.0.0",
    "0",
    "0.0.0.0:8000",
]
LOOPBACK_IPV6 = [
    "::1",
    "0:0:0:0:0:0:0:1",
    "0000:0000:0000:0000:0000:0000:0000:0001",
    "::0:1",
    "0::1",
    "[::1]",
    "[::1]:8080",
    "[::1]:",
    "[0:0:0:0:0:0:0:1]:80",
    "::1%lo",
    "[::1%lo]",
    "[::1%25lo]:8080",
    "::ffff:127.0.0.1",
    "::FFFF:127.0.0.2",
    "::ffff:7f00:1",
    "[::ffff:127.0.0.1]:443",
    "0:0:0:0:0:ffff:127.1.2.3",
    "::",
    "[::]",
    "[::]:80",
]
NOT_LOOPBACK_HOSTS = [
    # Names that contain or end with a loopback name without being one.
    "127.0.0.1.example.test",
    "localhost.example.test",
    "xlocalhost",
    "localhostx",
    "my-localhost",
    "localhost.localdomain",
    "localhost6",
    ".localhost",
    "a..localhost",
    "localhost..",
    "local host",
    "localhost\n",
    "localhost\x00",
    "\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54",  # full-width "localhost"
    "localhost\u200b",
    # Userinfo and other URL parts that a parser might leave in front of the host.
    "user@localhost",
    "user:pass@localhost",
    "user:pass@127.0.0.1:80",
    "127.0.0.1@example.test",
    "localhost@example.test",
    "localhost#@example.test",
    "127.0.0.1 example.test",
    "127.0.0.1/example.test",
    # Ports that are not ports.
    "localhost:http",
    "127.0.0.1:80:80",
    "127.0.0.1:-1",
    "[::1]x",
    "[::1",
    "::1]",
    # Other IPv4 ranges, including the cloud metadata address.
    "10.0.0.1",
    "10.1.2.3:8080",
    "192.168.0.1",
    "172.16.0.1",
    "169.254.169.254",
    "126.255.255.255",
    "128.0.0.1",
    "1",
    "0.0.0.1",
    "255.255.255.255",
    "0x7f000001.example.test",
    # IPv6 look-alikes: IPv4-compatible (not mapped), link-local, and mapped non-loopback.
    "::127.0.0.1",
    "::2",
    "::1:0",
    "1::",
    "fe80::1",
    "fe80::1%lo",
    "[fe80::1%25lo]:80",
    "::ffff:10.0.0.1",
    "::ffff:128.0.0.1",
    "64:ff9b::7f00:1",
    "2001:db8::1",
    "",
    "[]",
    ":",
]
NOT_TEXT = [None, 127, 2130706433, 0x7F000001, b"localhost", b"127.0.0.1", ["localhost"], object()]


@pytest.mark.parametrize("host", LOOPBACK_NAMES)
def test_loopback_names(host):
    assert is_loopback_host(host) is True


@pytest.mark.parametrize("host", LOOPBACK_IPV4)
def test_loopback_ipv4_spellings(host):
    assert is_loopback_host(host) is True


@pytest.mark.parametrize("host", LOOPBACK_IPV6)
def test_loopback_ipv6_spellings(host):
    assert is_loopback_host(host) is True


@pytest.mark.parametrize("host", NOT_LOOPBACK_HOSTS)
def test_look_alikes_not_loopback(host):
    assert is_loopback_host(host) is False


@pytest.mark.parametrize("value", NOT_TEXT, ids=repr)
def test_non_string_not_loopback(value):
    assert is_loopback_host(value) is False


def _address_part(host: str) -> str:
    """Strip brackets, port and zone, leaving what getaddrinfo parses."""
    if host.startswith("["):
        host = host[1 : host.index("]")]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host.partition("%")[0]


@pytest.mark.parametrize("host", LOOPBACK_IPV4 + LOOPBACK_IPV6)
def test_address_spelling_reaches_loopback(host):
    # The table's premise, checked with the C library: each spelling parses as an
    # address of this host. AI_NUMERICHOST parses literals only and makes no DNS query.
    infos = socket.getaddrinfo(_address_part(host), None, 0, 0, 0, socket.AI_NUMERICHOST)
    addresses = {info[4][0] for info in infos}
    for address in addresses:
        assert address.startswith(("127.", "::ffff:127.")) or address in ("0.0.0.0", "::1", "::")
