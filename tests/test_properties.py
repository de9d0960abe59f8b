"""Property tests: is_loopback_host agrees with an independent oracle and never raises.

The oracle (tests/loopback_oracle.py) decides addresses with ``ipaddress`` and
names with the RFC 6761 rule, so a disagreement points at one of the two.
"""

from __future__ import annotations

import ipaddress
import string

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from loopback_oracle import oracle_is_loopback_host

from loopback_shim import is_loopback_host

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

ipv4_addresses = st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address)
# Half the IPv4 draws come from 127.0.0.0/8, so both results occur often.
ipv4_near_loopback = st.one_of(
    ipv4_addresses,
    st.integers(min_value=0x7F000000, max_value=0x7FFFFFFF).map(ipaddress.IPv4Address),
    st.sampled_from(["0.0.0.0", "126.255.255.255", "128.0.0.0"]).map(ipaddress.IPv4Address),
)


def _number(value: int, base: str) -> str:
    if base == "hex":
        return "0x%x" % value
    if base == "octal":
        return "0%o" % value
    return "%d" % value


@st.composite
def ipv4_spellings(draw: st.DrawFn) -> str:
    """Draw an IPv4 address in one of the inet_aton(3) spellings: 1 to 4 parts, any base."""
    address = int(draw(ipv4_near_loopback))
    part_count = draw(st.integers(min_value=1, max_value=4))
    octets = address.to_bytes(4, "big")
    # The last part carries the remaining bytes: "127.1" is 127.0.0.1.
    parts = list(octets[: part_count - 1])
    parts.append(int.from_bytes(octets[part_count - 1 :], "big"))
    bases = draw(st.lists(st.sampled_from(["decimal", "hex", "octal"]), min_size=4, max_size=4))
    return ".".join(_number(part, base) for part, base in zip(parts, bases))


ipv6_addresses = st.one_of(
    st.integers(min_value=0, max_value=2**128 - 1).map(ipaddress.IPv6Address),
    st.integers(min_value=0, max_value=16).map(ipaddress.IPv6Address),
    ipv4_near_loopback.map(lambda v4: ipaddress.IPv6Address("::ffff:" + str(v4))),
    ipv4_near_loopback.map(lambda v4: ipaddress.IPv6Address("::" + str(v4))),
)


@st.composite
def ipv6_spellings(draw: st.DrawFn) -> str:
    """Draw an IPv6 literal: compressed, exploded or mixed, maybe bracketed, zoned, with port."""
    address = draw(ipv6_addresses)
    form = draw(st.sampled_from(["compressed", "exploded", "upper"]))
    text = {
        "compressed": address.compressed,
        "exploded": address.exploded,
        "upper": address.compressed.upper(),
    }[form]
    zone = draw(st.sampled_from(["", "%lo", "%eth0", "%1"]))
    if draw(st.booleans()):
        port = draw(st.sampled_from(["", ":", ":80", ":65535"]))
        return "[%s%s]%s" % (text, zone, port)
    return text + zone


label_alphabet = string.ascii_letters + string.digits + "-_"
labels = st.text(alphabet=label_alphabet, min_size=0, max_size=12)


@st.composite
def host_names(draw: st.DrawFn) -> str:
    """Draw names built around "localhost": label lists, odd case, empty labels, a port."""
    parts = draw(st.lists(labels, min_size=0, max_size=4))
    last = draw(st.sampled_from(["localhost", "LocalHost", "localhostx", "xlocalhost", "test"]))
    name = ".".join([*parts, last])
    name += draw(st.sampled_from(["", ".", ".."]))
    name += draw(st.sampled_from(["", ":", ":8080", ":x", ":123456"]))
    return name


@PROPERTY_SETTINGS
@given(ipv4_spellings())
@example("127.1")
@example("0x7f.0.0.1")
@example("0177.0.0.1")
@example("2130706433")
@example("0")
def test_ipv4_spellings_match_oracle(host):
    assert is_loopback_host(host) is oracle_is_loopback_host(host)


@PROPERTY_SETTINGS
@given(ipv4_near_loopback)
def test_ipv4_matches_ipaddress(address):
    host = str(address)
    expected = address.is_loopback or address.is_unspecified
    assert is_loopback_host(host) is expected
    assert is_loopback_host(host + ":443") is expected


@PROPERTY_SETTINGS
@given(ipv6_spellings())
@example("::1")
@example("[::1]:8080")
@example("::ffff:127.0.0.1")
@example("::127.0.0.1")
@example("[fe80::1%lo]")
def test_ipv6_spellings_match_oracle(host):
    assert is_loopback_host(host) is oracle_is_loopback_host(host)


@PROPERTY_SETTINGS
@given(ipv6_addresses)
def test_ipv6_matches_ipaddress(address):
    # ipaddress's is_loopback covers ::ffff:127.0.0.0/104 only from Python 3.13,
    # so the mapped case is checked through ipv4_mapped on every version.
    mapped = address.ipv4_mapped
    expected = (
        address.is_loopback or address.is_unspecified or (mapped is not None and mapped.is_loopback)
    )
    assert is_loopback_host(str(address)) is expected
    assert is_loopback_host("[%s]" % address) is expected


@PROPERTY_SETTINGS
@given(host_names())
@example("localhost")
@example("a.localhost.")
@example("localhost..")
@example(".localhost")
def test_names_match_rfc6761_rule(host):
    assert is_loopback_host(host) is oracle_is_loopback_host(host)


@PROPERTY_SETTINGS
@given(st.text(max_size=40))
def test_arbitrary_text_never_raises(host):
    result = is_loopback_host(host)
    assert result is oracle_is_loopback_host(host)


@PROPERTY_SETTINGS
@given(st.text(alphabet="0123456789abcdefxABCDEFX.:[]%lo ", max_size=30))
def test_address_characters_match_oracle(host):
    # Text made of address characters only reaches the parsing branches.
    assert is_loopback_host(host) is oracle_is_loopback_host(host)


@PROPERTY_SETTINGS
@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.binary(max_size=20),
        st.floats(allow_nan=True),
        st.lists(st.text(max_size=5), max_size=3),
    )
)
def test_non_text_is_not_loopback(value):
    assert is_loopback_host(value) is False
