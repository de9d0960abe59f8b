"""An independent answer to "is this host loopback?", for checking the shim's predicate.

It shares no code with ``loopback_shim._loopback``: addresses go through the
``ipaddress`` module, names through the RFC 6761 rule written out again here. The
one borrowed piece is ``socket.inet_aton``, because that is what decides which
IPv4 spellings the C library (and so every Python client) connects to.
"""

from __future__ import annotations

import ipaddress
import socket

# inet_aton(3) spellings: "127.1", "2130706433", "0x7f.1", "0177.0.0.1".
IPV4_LITERAL_CHARS = set("0123456789abcdefx.")
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


def oracle_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """Return the address an IPv4 literal in any inet_aton spelling names, else None."""
    if not text or not set(text.lower()) <= IPV4_LITERAL_CHARS or not text[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def oracle_ipv6(text: str) -> ipaddress.IPv6Address | None:
    """Return the address of an IPv6 literal, zone id ("%lo") dropped, else None."""
    address = text.split("%", 1)[0]
    if ":" not in address:
        return None
    try:
        return ipaddress.IPv6Address(address)
    except ValueError:
        return None


def oracle_is_loopback_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # The unspecified address counts: a connect() to it reaches this machine on Linux.
    if address.is_loopback or address.is_unspecified:
        return True
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped is not None and mapped.is_loopback


def oracle_is_loopback_name(name: str) -> bool:
    """RFC 6761 section 6.3: "localhost" and every name under "localhost."."""
    name = name.lower()
    if name.endswith("."):
        name = name[:-1]
    labels = name.split(".")
    if not all(labels) or not all(set(label) <= NAME_CHARS for label in labels):
        return False
    return labels[-1] == "localhost"


def oracle_is_loopback_bare_host(host: str) -> bool:
    """Decide for a host without brackets or port, as a client passes it to connect()."""
    if not host or not host.isascii() or not host.isprintable() or " " in host:
        return False
    ipv6 = oracle_ipv6(host)
    if ipv6 is not None:
        return oracle_is_loopback_address(ipv6)
    ipv4 = oracle_ipv4(host)
    if ipv4 is not None:
        return oracle_is_loopback_address(ipv4)
    return oracle_is_loopback_name(host)


def oracle_is_loopback_host(host: object) -> bool:
    """Decide for a host in any form the shim accepts: bracketed, with a port, or bare."""
    if not isinstance(host, str) or not host.isascii():
        return False
    if host.startswith("["):
        inside, bracket, rest = host[1:].partition("]")
        if not bracket or not _is_port_or_nothing(rest):
            return False
        return oracle_ipv6(inside) is not None and oracle_is_loopback_bare_host(inside)
    if host.count(":") >= 2:
        return oracle_ipv6(host) is not None and oracle_is_loopback_bare_host(host)
    bare, colon, port = host.partition(":")
    if colon and not _is_port_or_nothing(":" + port):
        return False
    return oracle_is_loopback_bare_host(bare)


def _is_port_or_nothing(text: str) -> bool:
    if text in ("", ":"):
        return True
    digits = text[1:]
    return text.startswith(":") and digits.isascii() and digits.isdigit() and len(digits) <= 5


def socket_host(host: str) -> str | None:
    """Return the host text the socket module hands to getaddrinfo, or None if it raises.

    CPython encodes a non-ASCII ``str`` host with the "idna" codec (IDNA 2003 with
    nameprep), so "ｌｏｃａｌｈｏｓｔ" and "127。0。0。1" reach the resolver as
    "localhost" and "127.0.0.1".
    """
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
