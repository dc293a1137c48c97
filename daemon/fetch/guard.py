"""Address policy of the SSRF guard (pure: no I/O).

newsd fetches URLs that strangers publish in feeds, so every address a request would connect to
is vetted here first: only public unicast addresses are reached, unless an operator allow-lists a
network (`fetch.allow_private_networks`).  The verdict does not depend on the Python patch version:
the refused ranges are listed below instead of relying only on `ipaddress.is_global`, whose
tables changed between releases.

IPv6 forms that embed an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
`2002::/16`, Teredo `2001::/32`) are judged by the IPv4 address they carry, so
`::ffff:127.0.0.1` is as loopback as `127.0.0.1`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})


def _nets(*pairs: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(cidr), label) for cidr, label in pairs)


# RFC 6890 special-purpose registries, plus multicast and the reserved class E.
_REFUSED_V4 = _nets(
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link_local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
)

_REFUSED_V6 = _nets(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/8", "reserved"),
    ("64:ff9b:1::/48", "private"),
    ("100::/64", "discard"),
    ("2001::/23", "reserved"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "reserved"),
    ("fc00::/7", "unique_local"),
    ("fe80::/10", "link_local"),
    ("fec0::/10", "site_local"),
    ("ff00::/8", "multicast"),
)

_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def parse_address(host: str) -> IPAddress | None:
    """The IP address written in `host` (brackets and IPv6 zone ids allowed), or None for a name."""
    text = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 transition form carries (mapped, NAT64, 6to4, Teredo), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def refusal(address: IPAddress) -> str | None:
    """Why `address` must not be reached (a short label), or None when it is public unicast."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return refusal(inner)
        for net, label in _REFUSED_V6:
            if address in net:
                return label
        if address not in _GLOBAL_UNICAST_V6:
            return "reserved"
    else:
        for net, label in _REFUSED_V4:
            if address in net:
                return label
    return None if address.is_global else "reserved"


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses may be connected to: public unicast, plus the allow-listed networks."""

    allow: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str]) -> AddressPolicy:
        """Build from CIDR strings (`127.0.0.1/32`); raises ValueError on a malformed one."""
        return cls(tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs))

    def allow_listed(self, address: IPAddress) -> bool:
        """True when `address` (or the IPv4 address it maps) is inside an allow-listed CIDR."""
        candidates: list[IPAddress] = [address]
        # Only the mapped form reaches the same host; 6to4/NAT64/Teredo go through relays.
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(a in net for a in candidates for net in self.allow if a.version == net.version)

    def check(self, address: IPAddress) -> str | None:
        """Why `address` is refused under this policy, or None when it may be reached."""
        if self.allow_listed(address):
            return None
        return refusal(address)


def scheme_refusal(url: str) -> str | None:
    """Why `url` may not be fetched because of its scheme or host syntax, or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "bad_url"
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        return "bad_scheme"
    if not parts.hostname:
        return "bad_url"
    return None
