"""The loopback predicate: does a host string name this machine's loopback interface?

The answer never depends on DNS, the network or the environment, so that it is cheap,
cannot leak a lookup and cannot be steered by a resolver. Every host form the patched
clients pass in is accepted: a bare name or address, an IPv6 address with or without
brackets and zone id, and any of these with a ``:port`` suffix.
"""

import functools
import socket

__all__ = ["is_loopback_host"]

# Characters of an IPv4 literal in any spelling inet_aton(3) accepts: dotted, with
# fewer than four parts ("127.1"), a single number ("2130706433"), hex ("0x7f.1") or
# octal ("0177.0.0.1"). Gating on them first matters because glibc's inet_aton
# ignores anything after a space ("127.0.0.1 evil.test" parses as 127.0.0.1).
_IPV4_CHARS = frozenset("0123456789abcdefx.")

# Characters of a host name label (letters, digits, hyphen, and the underscore that
# real-world names carry). Anything else, including every non-ASCII character that
# IDNA would map ("ｌｏｃａｌｈｏｓｔ"), is not loopback by name.
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")

_IPV6_LOOPBACK = bytes(15) + b"\x01"
_IPV6_UNSPECIFIED = bytes(16)
_IPV4_MAPPED_PREFIX = bytes(10) + b"\xff\xff"
_MAX_HOST_LENGTH = 255 + len("[]:65535")


def is_loopback_host(host: object) -> bool:
    """Return True if ``host`` is a loopback host, never raising.

    Loopback means ``localhost`` and names under ``.localhost`` (RFC 6761), the
    IPv4 block 127.0.0.0/8, ``::1`` and IPv4-mapped ``::ffff:127.x.y.z``, and the
    unspecified addresses ``0.0.0.0`` and ``::``, because a connection to them
    reaches this machine while a proxy would connect to its own.
    """
    if not isinstance(host, str):
        return False
    return _is_loopback_text(host)


# Clients ask about the same few hosts again and again; the bound keeps memory flat
# when many distinct names pass through.
@functools.lru_cache(maxsize=4096)
def _is_loopback_text(host: str) -> bool:
    if not host or len(host) > _MAX_HOST_LENGTH:
        return False
    if not host.isascii() or not host.isprintable() or " " in host:
        return False
    host = host.lower()

    # "[::1]", "[::1]:8080", "[::1%25lo]"
    if host.startswith("["):
        end = host.find("]")
        if end == -1 or not _is_port_suffix(host[end + 1 :]):
            return False
        return _is_loopback_ipv6(host[1:end])

    # "::1", "::ffff:127.0.0.1", "fe80::1%eth0": two colons or more mean an address.
    if host.count(":") > 1:
        return _is_loopback_ipv6(host)

    # "localhost:8080", "127.0.0.1:80"
    name, colon, port = host.partition(":")
    if colon and not _is_port_suffix(colon + port):
        return False
    return _is_loopback_ipv4(name) or _is_loopback_name(name)


def _is_port_suffix(text: str) -> bool:
    # An empty port ("localhost:") is what urllib.parse and urllib3 accept as "none".
    if text in ("", ":"):
        return True
    return text[0] == ":" and text[1:].isdigit() and len(text) <= 6


def _is_loopback_name(name: str) -> bool:
    # "localhost", "LOCALHOST.", "app.localhost"; one trailing dot is the root label.
    if name.endswith("."):
        name = name[:-1]
    if not name or not _NAME_CHARS.issuperset(name):
        return False
    labels = name.split(".")
    return labels[-1] == "localhost" and all(labels)


def _is_loopback_ipv4(text: str) -> bool:
    # "127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "0.0.0.0", "0"
    if not text or not _IPV4_CHARS.issuperset(text) or not text[0].isdigit():
        return False
    try:
        packed = socket.inet_aton(text)
    except OSError:
        return False
    return packed[0] == 127 or packed == bytes(4)


def _is_loopback_ipv6(text: str) -> bool:
    # "::1", "0:0:0:0:0:0:0:1", "::1%lo", "::", "::ffff:127.0.0.1", "::ffff:7f00:1"
    address, _, _zone = text.partition("%")
    try:
        packed = socket.inet_pton(socket.AF_INET6, address)
    except (OSError, ValueError):
        return False
    if packed in (_IPV6_LOOPBACK, _IPV6_UNSPECIFIED):
        return True
    return packed.startswith(_IPV4_MAPPED_PREFIX) and packed[12] == 127
