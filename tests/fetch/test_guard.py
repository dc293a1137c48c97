"""The SSRF address policy: named tables plus Hypothesis invariants."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.fetch.guard import AddressPolicy, IPAddress, parse_address, refusal, scheme_refusal

REFUSED = {
    "ipv4 loopback": ("127.0.0.1", "loopback"),
    "ipv4 loopback range": ("127.255.0.9", "loopback"),
    "rfc1918 10/8": ("10.1.2.3", "private"),
    "rfc1918 172.16/12": ("172.31.255.255", "private"),
    "rfc1918 192.168/16": ("192.168.1.1", "private"),
    "cloud metadata": ("169.254.169.254", "link_local"),
    "shared cgnat": ("100.64.0.1", "shared"),
    "unspecified v4": ("0.0.0.0", "unspecified"),
    "this network": ("0.1.2.3", "unspecified"),
    "multicast v4": ("224.0.0.251", "multicast"),
    "broadcast": ("255.255.255.255", "reserved"),
    "class e": ("240.0.0.1", "reserved"),
    "documentation v4": ("192.0.2.10", "documentation"),
    "benchmarking": ("198.18.0.1", "benchmarking"),
    "ipv6 loopback": ("::1", "loopback"),
    "ipv6 unspecified": ("::", "unspecified"),
    "ipv6 ula": ("fd12:3456::1", "unique_local"),
    "ipv6 link-local": ("fe80::1", "link_local"),
    "ipv6 link-local with zone": ("fe80::1%eth0", "link_local"),
    "ipv6 multicast": ("ff02::1", "multicast"),
    "ipv6 documentation": ("2001:db8::1", "documentation"),
    "ipv4-mapped loopback": ("::ffff:127.0.0.1", "loopback"),
    "ipv4-mapped metadata": ("::ffff:169.254.169.254", "link_local"),
    "ipv4-compatible (deprecated)": ("::127.0.0.1", "reserved"),
    "nat64 of metadata": ("64:ff9b::a9fe:a9fe", "link_local"),
    "nat64 of rfc1918": ("64:ff9b::10.0.0.1", "private"),
    "local-use nat64": ("64:ff9b:1::1", "private"),
    "6to4 of loopback": ("2002:7f00:1::", "loopback"),
    "6to4 of rfc1918": ("2002:c0a8:101::1", "private"),
    "teredo of rfc1918": ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"),
    "outside 2000::/3": ("4000::1", "reserved"),
    "bracketed literal": ("[::1]", "loopback"),
}

ALLOWED = {
    "public v4": "93.184.216.34",
    "public dns": "8.8.8.8",
    "public v6": "2606:4700:4700::1111",
    "ipv4-mapped public": "::ffff:8.8.8.8",
    "nat64 of public": "64:ff9b::808:808",
    "6to4 of public": "2002:808:808::1",
}


def _ip(text: str) -> IPAddress:
    address = parse_address(text)
    assert address is not None
    return address


@pytest.mark.parametrize(("text", "label"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_addresses(text: str, label: str) -> None:
    """Every non-public form is refused, with a label naming why."""
    assert refusal(_ip(text)) == label
    assert AddressPolicy().check(_ip(text)) == label


@pytest.mark.parametrize("text", ALLOWED.values(), ids=ALLOWED.keys())
def test_public_addresses_allowed(text: str) -> None:
    """Public unicast addresses (also in transition forms) are allowed with no allow-list."""
    assert AddressPolicy().check(_ip(text)) is None


ALLOW_LIST = {
    "exact loopback": (["127.0.0.1/32"], "127.0.0.1", None),
    "other loopback not covered": (["127.0.0.1/32"], "127.0.0.2", "loopback"),
    "mapped form of allowed": (["127.0.0.1/32"], "::ffff:127.0.0.1", None),
    "6to4 form is not the same host": (["127.0.0.1/32"], "2002:7f00:1::", "loopback"),
    "ipv6 loopback": (["::1/128"], "::1", None),
    "v4 list does not cover v6": (["127.0.0.1/32"], "::1", "loopback"),
    "private subnet": (["10.0.0.0/8"], "10.9.8.7", None),
    "metadata still refused": (["10.0.0.0/8"], "169.254.169.254", "link_local"),
}


@pytest.mark.parametrize(("cidrs", "text", "expected"), ALLOW_LIST.values(), ids=ALLOW_LIST.keys())
def test_allow_list(cidrs: list[str], text: str, expected: str | None) -> None:
    """Allow-listed CIDRs open exactly their addresses (and the IPv4-mapped forms of them)."""
    assert AddressPolicy.from_cidrs(cidrs).check(_ip(text)) == expected


SCHEMES = {
    "http": ("http://example.com/", None),
    "https upper-case": ("HTTPS://example.com/", None),
    "file": ("file:///etc/passwd", "bad_scheme"),
    "ftp": ("ftp://example.com/", "bad_scheme"),
    "gopher": ("gopher://127.0.0.1:6379/", "bad_scheme"),
    "no host": ("http:///path", "bad_url"),
    "bad ipv6 literal": ("http://[::1/", "bad_url"),
}


@pytest.mark.parametrize(("url", "expected"), SCHEMES.values(), ids=SCHEMES.keys())
def test_scheme_refusal(url: str, expected: str | None) -> None:
    """Only http and https URLs with a host pass."""
    assert scheme_refusal(url) == expected


def _special(address: IPAddress) -> bool:
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


ipv4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
ipv6 = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)
mapped = ipv4.map(lambda a: ipaddress.IPv6Address(f"::ffff:{a}"))
nat64 = ipv4.map(lambda a: ipaddress.IPv6Address((0x64FF9B << 96) | int(a)))
sixtofour = ipv4.map(lambda a: ipaddress.IPv6Address((0x2002 << 112) | (int(a) << 80)))
addresses = st.one_of(ipv4, ipv6, mapped, nat64, sixtofour)


def _carried(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address):
        for inner in (address.ipv4_mapped, address.sixtofour):
            if inner is not None:
                return inner
        if address in ipaddress.IPv6Network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


@given(addresses)
def test_no_special_address_is_ever_allowed_without_allow_list(address: IPAddress) -> None:
    """Whatever Python's own tables call non-global is refused, also inside transition forms."""
    if _special(_carried(address)):
        assert AddressPolicy().check(address) is not None


@given(addresses)
def test_allowed_means_public_unicast(address: IPAddress) -> None:
    """An allowed address is global, not multicast, and carries no special IPv4 address."""
    if AddressPolicy().check(address) is None:
        carried = _carried(address)
        assert carried.is_global and not carried.is_multicast


@given(ipv4, st.integers(8, 32))
def test_allow_listed_network_opens_only_itself(address: ipaddress.IPv4Address, bits: int) -> None:
    """With an allow-list, refused addresses outside it stay refused; those inside are allowed."""
    net = ipaddress.IPv4Network(f"{address}/{bits}", strict=False)
    policy = AddressPolicy((net,))
    assert policy.check(address) is None
    outside = ipaddress.IPv4Address((int(net.broadcast_address) + 1) % 2**32)
    if outside not in net:
        assert policy.check(outside) == refusal(outside)
