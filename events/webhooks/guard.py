"""The SSRF guard: deliveries go only to public addresses, checked on the resolved address.

A URL is checked when an endpoint is created and again in every delivery pass, on the
addresses its host resolves to then, and the request goes to the address that was
checked (`Target`): a DNS answer that changes between the two (rebinding) cannot steer
a delivery inside the network. Cloud metadata and multicast addresses are refused
always; loopback, private, link-local and CGNAT ones unless the setting allows them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from events.webhooks.errors import WebhookUrlRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")


async def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses as the system resolver answers now."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why deliveries may not go to `address`, or None when they may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_multicast:
        return "a multicast address"
    if allow_private:
        return None
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if isinstance(address, ipaddress.IPv4Address) and address in CGNAT:
        return "a CGNAT (shared) address"
    if address.is_private or not address.is_global:
        return "a private or reserved address"
    return None


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: the checked address, and the name it is sent for."""

    url: httpx.URL
    host_header: str
    sni_hostname: str | None

    @property
    def extensions(self) -> dict[str, str]:
        return {"sni_hostname": self.sni_hostname} if self.sni_hostname else {}


class UrlGuard:
    def __init__(
        self, *, https_only: bool, allow_private: bool, resolver: Resolver = system_resolver
    ) -> None:
        self.https_only = https_only
        self.allow_private = allow_private
        self.resolver = resolver

    def check_form(self, url: str) -> httpx.URL:
        """`url` parsed, refused unless its scheme, host and parts are allowed."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as error:
            raise WebhookUrlRefused(f"not a URL: {error}") from None
        allowed = ("https",) if self.https_only else ("https", "http")
        if parsed.scheme not in allowed:
            raise WebhookUrlRefused(f"the URL's scheme must be {' or '.join(allowed)}")
        if not parsed.host:
            raise WebhookUrlRefused("the URL has no host")
        if parsed.userinfo or parsed.fragment:
            raise WebhookUrlRefused("the URL may carry neither credentials nor a fragment")
        return parsed

    async def resolve(self, url: str) -> Target:
        """The address to deliver `url` to now; refused when any address it resolves to is."""
        parsed = self.check_form(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        addresses = await self._addresses(parsed.host, port)
        for address in addresses:
            refusal = address_refusal(address, allow_private=self.allow_private)
            if refusal is not None:
                raise WebhookUrlRefused(
                    f"{parsed.host} resolves to {address}, {refusal}", address=str(address)
                )
        literal = _ip(parsed.host) is not None
        return Target(
            url=parsed.copy_with(host=str(addresses[0])),
            host_header=parsed.netloc.decode("ascii"),
            sni_hostname=None if literal or parsed.scheme != "https" else parsed.host,
        )

    async def _addresses(self, host: str, port: int) -> list[IPAddress]:
        literal = _ip(host)
        if literal is not None:
            return [literal]
        try:
            answers = await self.resolver(host, port)
        except OSError as error:
            raise WebhookUrlRefused(f"{host} does not resolve: {error}") from None
        addresses = [address for answer in answers if (address := _ip(answer)) is not None]
        if not addresses:
            raise WebhookUrlRefused(f"{host} does not resolve to an address")
        return addresses


def _ip(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return None
