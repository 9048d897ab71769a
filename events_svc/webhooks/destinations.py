"""Where a webhook may be POSTed: public unicast addresses only, checked and pinned (SSRF).

A URL's host is turned into addresses the way the OS would (numeric forms such as `127.1`,
`2130706433`, `0x7f000001` or `0177.0.0.1` with `inet_aton` semantics, names through one
injectable async resolver), every address is classified with `ipaddress`, and the request is
then sent to the very address that was checked, so a DNS answer that changes between the check
and the connection (rebinding) reaches nothing new.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any
from urllib.parse import urlsplit

import httpx

IPAddress = IPv4Address | IPv6Address
#: resolves (host, port) to address strings, like getaddrinfo; raises OSError when it cannot
Resolver = Callable[[str, int], Awaitable[list[str]]]

#: a DNS lookup that takes longer is abandoned (the delivery is retried later)
DNS_TIMEOUT = 5.0
#: addresses of one name tried in turn when a connection fails
MAX_ADDRESSES = 4
#: names that never point outside: RFC 6761 `localhost`, ICANN's private-use `.internal`
#: (e.g. metadata.google.internal), mDNS `.local`, RFC 8375 `.home.arpa`
_INTERNAL_SUFFIXES = ("localhost", "internal", "local", "home.arpa", "localdomain")

_V4 = IPv4Network
_V6 = IPv6Network
#: IANA special-purpose IPv4 ranges, labelled; a backstop for what this Python's `ipaddress`
#: misjudges (3.11 before 3.11.10 counts e.g. 192.0.0.0/24 and 224.0.0.0/4 as global)
_SPECIAL_V4: tuple[tuple[IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), "reserved"),  # "this network"
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "shared (CGNAT)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "reserved"),
    (_V4("192.0.2.0/24"), "documentation"),
    (_V4("192.88.99.0/24"), "reserved"),  # 6to4 relay anycast
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "reserved"),  # benchmarking
    (_V4("198.51.100.0/24"), "documentation"),
    (_V4("203.0.113.0/24"), "documentation"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "reserved"),  # and 255.255.255.255
)
_SPECIAL_V6: tuple[tuple[IPv6Network, str], ...] = (
    (_V6("fc00::/7"), "private"),  # unique local
    (_V6("fec0::/10"), "private"),  # site-local (deprecated)
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("3fff::/20"), "documentation"),
    (_V6("2001::/23"), "reserved"),  # IETF protocol assignments, Teredo among them
    (_V6("64:ff9b:1::/48"), "reserved"),  # local-use NAT64
    (_V6("100::/64"), "reserved"),  # discard-only
)
#: only this part of IPv6 is allocated as global unicast; the rest is reserved
_GLOBAL_UNICAST_V6 = _V6("2000::/3")
#: the well-known NAT64 prefix: the IPv4 address sits in the last 32 bits
_NAT64 = _V6("64:ff9b::/96")
#: IPv4-compatible IPv6 (deprecated): ::a.b.c.d
_COMPATIBLE = _V6("::/96")


class DestinationRefused(Exception):
    """The destination is not a public address; `reason` is fixed text, safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ResolutionFailed(Exception):
    """The host name could not be resolved (maybe for now); `reason` is fixed text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def system_resolver(host: str, port: int) -> list[str]:
    """getaddrinfo on the loop's executor, so the event loop never blocks on DNS."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


#: the one resolver of names; tests replace it to make a name resolve anywhere, offline
resolver: Resolver = system_resolver


def _embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: IPv4-mapped, -compatible, 6to4 or NAT64."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _COMPATIBLE and int(ip) > 1):
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress) -> str | None:
    """What kind of non-public address `ip` is ("loopback", "private", ...); None: public."""
    if isinstance(ip, IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            # The IPv4 address it reaches decides; a public one is fine through mapping,
            # 6to4 or NAT64, but the deprecated compatible form never is.
            label = refusal(inner)
            if label is None and ip in _COMPATIBLE and ip.ipv4_mapped is None:
                return "reserved"
            return label
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, IPv6Address) and ip.is_site_local:
        return "private"
    specials = _SPECIAL_V4 if isinstance(ip, IPv4Address) else _SPECIAL_V6
    for network, label in specials:
        if ip in network:
            return label
    if isinstance(ip, IPv6Address) and ip not in _GLOBAL_UNICAST_V6:
        return "reserved"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private or not ip.is_global:
        return "non-public"
    return None


def not_allowed(label: str) -> DestinationRefused:
    return DestinationRefused(f"destination not allowed: {label} address")


def ip_literal(host: str) -> IPAddress | None:
    """The address a host that is written as one stands for, read as the OS reads it: IPv6
    literals, and IPv4 in dotted, short (`127.1`), decimal, hex and octal forms; else None."""
    if ":" in host:
        return ipaddress.IPv6Address(host)
    try:
        return IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def literal_refusal(url: str) -> str | None:
    """Why a URL whose host is written as an address must not be reached, without a DNS
    lookup and even where the HTTP client rejects the form (e.g. octal `0177.0.0.1`)."""
    try:
        host = urlsplit(url).hostname
        ip = ip_literal(host) if host else None
    except ValueError:
        return None
    label = refusal(ip) if ip is not None else None
    return not_allowed(label).reason if label else None


def _internal_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    if "." not in name:
        return True  # a single label is completed by the resolver's search list: internal
    return any(name == s or name.endswith("." + s) for s in _INTERNAL_SUFFIXES)


@dataclass(frozen=True, slots=True)
class Destination:
    """How to reach a checked URL: the same URL with each allowed address as its host (in
    resolver order), the original Host header, and for https the real name for SNI and
    certificate verification."""

    urls: list[httpx.URL]
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


def unchecked(url: str) -> Destination:
    """The URL as it is, resolved by the HTTP client (WEBHOOK_ALLOW_PRIVATE)."""
    return Destination(urls=[httpx.URL(url)])


async def addresses_of(
    host: str, port: int, *, resolve: Resolver | None = None, dns_timeout: float = DNS_TIMEOUT
) -> list[IPAddress]:
    """Every address `host` stands for; raises DestinationRefused for internal names and
    ResolutionFailed when a name does not resolve within `dns_timeout`."""
    try:
        literal = ip_literal(host)
    except ValueError:
        raise DestinationRefused("destination not allowed: unrecognised address") from None
    if literal is not None:
        return [literal]
    if _internal_name(host):
        raise DestinationRefused("destination not allowed: internal host name")
    lookup = resolve or resolver
    try:
        async with asyncio.timeout(dns_timeout):
            found = await lookup(host, port)
    except TimeoutError:
        raise ResolutionFailed("DNS lookup timed out") from None
    except (OSError, UnicodeError):
        raise ResolutionFailed("host name does not resolve") from None
    addresses: list[IPAddress] = []
    for text in found:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            raise DestinationRefused("destination not allowed: unrecognised address") from None
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise ResolutionFailed("host name does not resolve")
    return addresses


async def check(
    url: str, *, resolve: Resolver | None = None, dns_timeout: float = DNS_TIMEOUT
) -> Destination:
    """The pinned destination of `url` when every address its host resolves to is public;
    raises DestinationRefused (with the first refused kind) or ResolutionFailed."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        reason = literal_refusal(url) or "destination not allowed: invalid URL"
        raise DestinationRefused(reason) from None
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = await addresses_of(host, port, resolve=resolve, dns_timeout=dns_timeout)
    for ip in addresses:
        label = refusal(ip)
        if label is not None:
            raise not_allowed(label)
    # A public IPv4-mapped address is reached as the IPv4 address itself.
    targets = [
        ip.ipv4_mapped if isinstance(ip, IPv6Address) and ip.ipv4_mapped else ip for ip in addresses
    ]
    headers = {"Host": parsed.netloc.decode("ascii")}
    extensions: dict[str, Any] = {}
    if parsed.scheme == "https" and ip_literal(host) is None:
        extensions["sni_hostname"] = host
        # Connections are pooled by address: one made (and verified) for this name must not
        # carry another name's request that resolves to the same address.
        headers["Connection"] = "close"
    urls = [parsed.copy_with(host=str(ip)) for ip in targets[:MAX_ADDRESSES]]
    return Destination(urls=urls, headers=headers, extensions=extensions)
