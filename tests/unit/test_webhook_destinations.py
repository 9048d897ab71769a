"""Which webhook destinations are public, how a host becomes addresses, and how it is pinned."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest

from events_svc.webhooks import destinations
from events_svc.webhooks.destinations import (
    DestinationRefused,
    ResolutionFailed,
    addresses_of,
    check,
    ip_literal,
    literal_refusal,
    refusal,
)


@pytest.mark.parametrize(
    ("address", "label"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "reserved"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("100.127.255.254", "shared (CGNAT)"),
        ("169.254.169.254", "link-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.0.8", "reserved"),
        ("198.18.0.1", "reserved"),
        ("192.0.2.10", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.200", "documentation"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fec0::1", "private"),
        ("ff02::1", "multicast"),
        ("ff0e::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("2001::1", "reserved"),  # Teredo
        ("100::1", "reserved"),
        ("64:ff9b:1::a00:1", "reserved"),
        ("4000::1", "reserved"),  # outside 2000::/3
        # IPv4 written in IPv6: the IPv4 address it reaches decides
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
        ("::8.8.8.8", "reserved"),  # compatible form, even for a public address
        ("64:ff9b::7f00:1", "loopback"),  # NAT64
        ("64:ff9b::a9fe:a9fe", "link-local"),
        ("2002:7f00:1::", "loopback"),  # 6to4
        ("2002:c0a8:1::1", "private"),
        ("::ffff:0:7f00:1", "reserved"),  # SIIT
    ],
)
def test_non_public_addresses_are_refused_with_their_kind(address: str, label: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == label


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "101.6.6.6",
        "2606:4700:4700::1111",
        "2400:3200::1",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_public_unicast_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("0", "0.0.0.0"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("::1", "::1"),
    ],
)
def test_numeric_hosts_are_read_as_the_os_reads_them(host: str, address: str) -> None:
    assert ip_literal(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["hooks.example.org", "1e100.net", "08.0.0.1", "127.0.0.1.x"])
def test_names_are_not_literals(host: str) -> None:
    assert ip_literal(host) is None


def test_an_octal_literal_the_http_client_rejects_is_still_named() -> None:
    assert literal_refusal("http://0177.0.0.1/") == "destination not allowed: loopback address"
    assert literal_refusal("http://hooks.example.org/") is None


def _resolver(table: dict[str, list[str]]) -> destinations.Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST.",
        "api.localhost",
        "metadata.google.internal",
        "metadata.google.internal.",
        "printer.local",
        "nas.home.arpa",
        "intranet",
    ],
)
async def test_internal_names_are_refused_without_a_lookup(host: str) -> None:
    lookups: list[str] = []

    async def resolve(name: str, port: int) -> list[str]:
        lookups.append(name)
        return ["8.8.8.8"]

    with pytest.raises(DestinationRefused, match="internal host name"):
        await addresses_of(host, 80, resolve=resolve)
    assert lookups == []


async def test_a_name_gives_every_address_once_in_resolver_order() -> None:
    resolve = _resolver({"hooks.example.org": ["93.184.215.14", "2606:2800::1", "93.184.215.14"]})
    found = await addresses_of("hooks.example.org", 443, resolve=resolve)
    assert found == [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("2606:2800::1")]


async def test_lookup_failures_are_resolution_failures() -> None:
    with pytest.raises(ResolutionFailed, match="does not resolve"):
        await addresses_of("nowhere.example.org", 80, resolve=_resolver({}))
    with pytest.raises(ResolutionFailed, match="does not resolve"):
        await addresses_of("empty.example.org", 80, resolve=_resolver({"empty.example.org": []}))

    async def hang(host: str, port: int) -> list[str]:
        await asyncio.sleep(60)
        return []

    with pytest.raises(ResolutionFailed, match="timed out"):
        await addresses_of("slow.example.org", 80, resolve=hang, dns_timeout=0.05)


async def test_the_system_resolver_reads_numeric_hosts_offline() -> None:
    assert await destinations.system_resolver("127.0.0.1", 80) == ["127.0.0.1"]


async def test_one_private_address_among_public_ones_refuses_the_name() -> None:
    resolve = _resolver({"mixed.example.org": ["93.184.215.14", "10.0.0.5"]})
    with pytest.raises(DestinationRefused, match="private address"):
        await check("https://mixed.example.org/in", resolve=resolve)


async def test_https_is_pinned_to_the_checked_address_with_the_real_name() -> None:
    resolve = _resolver({"hooks.example.org": ["93.184.215.14", "2606:2800::1"]})
    to = await check("https://hooks.example.org:8443/in?x=1", resolve=resolve)
    assert [str(u) for u in to.urls] == [
        "https://93.184.215.14:8443/in?x=1",
        "https://[2606:2800::1]:8443/in?x=1",
    ]
    assert to.headers == {"Host": "hooks.example.org:8443", "Connection": "close"}
    assert to.extensions == {"sni_hostname": "hooks.example.org"}


async def test_http_and_address_literals_need_no_sni() -> None:
    to = await check(
        "http://hooks.example.org/in", resolve=_resolver({"hooks.example.org": ["8.8.8.8"]})
    )
    assert [str(u) for u in to.urls] == ["http://8.8.8.8/in"]
    assert to.headers == {"Host": "hooks.example.org"} and to.extensions == {}
    to = await check("https://[::ffff:8.8.8.8]/in")  # a public mapped address: its IPv4
    assert [str(u) for u in to.urls] == ["https://8.8.8.8/in"] and to.extensions == {}


async def test_the_module_resolver_is_the_one_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(destinations, "resolver", _resolver({"rebind.example.org": ["127.0.0.1"]}))
    with pytest.raises(DestinationRefused, match="loopback address"):
        await check("http://rebind.example.org/")
