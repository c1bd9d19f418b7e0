"""The SSRF guard refuses internal addresses, checked on what the host resolves to now."""

from __future__ import annotations

import ipaddress

import pytest

from events.webhooks.errors import WebhookUrlRefused
from events.webhooks.guard import UrlGuard, address_refusal

REFUSED = [
    "127.0.0.1",
    "::1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.10.10",
    "fe80::1",
    "100.64.0.1",
    "fd12:3456::1",
    "0.0.0.0",
    "::ffff:127.0.0.1",
    "224.0.0.1",
    "ff02::1",
    "169.254.169.254",
    "fd00:ec2::254",
]


@pytest.mark.parametrize("address", REFUSED)
def test_internal_addresses_are_refused(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), allow_private=False) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), allow_private=False) is None


def test_the_setting_allows_private_addresses_but_never_metadata_or_multicast() -> None:
    allowed = [ipaddress.ip_address(a) for a in ("127.0.0.1", "10.0.0.1", "100.64.0.1")]
    assert [address_refusal(a, allow_private=True) for a in allowed] == [None, None, None]
    for address in ("169.254.169.254", "fd00:ec2::254", "224.0.0.1"):
        assert address_refusal(ipaddress.ip_address(address), allow_private=True) is not None


def answers(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(_host: str, _port: int) -> list[str]:
        return list(addresses)

    return resolve


async def test_a_host_resolving_to_an_internal_address_is_refused() -> None:
    guard = UrlGuard(
        https_only=True, allow_private=False, resolver=answers("93.184.216.34", "10.0.0.7")
    )
    with pytest.raises(WebhookUrlRefused, match="10.0.0.7"):
        await guard.resolve("https://hooks.example.com/in")


async def test_the_request_goes_to_the_checked_address_for_the_host() -> None:
    guard = UrlGuard(https_only=True, allow_private=False, resolver=answers("93.184.216.34"))
    target = await guard.resolve("https://hooks.example.com:8443/in?x=1")
    assert str(target.url) == "https://93.184.216.34:8443/in?x=1"
    assert target.host_header == "hooks.example.com:8443"
    assert target.extensions == {"sni_hostname": "hooks.example.com"}


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/in",  # https only
        "ftp://hooks.example.com/in",
        "https://user:secret@hooks.example.com/in",
        "https:///in",
        "not a url",
    ],
)
async def test_urls_of_the_wrong_form_are_refused_in_production(url: str) -> None:
    guard = UrlGuard(https_only=True, allow_private=False, resolver=answers("93.184.216.34"))
    with pytest.raises(WebhookUrlRefused):
        await guard.resolve(url)


async def test_plain_http_is_allowed_outside_production() -> None:
    guard = UrlGuard(https_only=False, allow_private=False, resolver=answers("93.184.216.34"))
    target = await guard.resolve("http://hooks.example.com/in")
    assert target.sni_hostname is None


async def test_a_host_that_does_not_resolve_is_refused() -> None:
    async def fails(_host: str, _port: int) -> list[str]:
        raise OSError("Name or service not known")

    guard = UrlGuard(https_only=True, allow_private=False, resolver=fails)
    with pytest.raises(WebhookUrlRefused, match="does not resolve"):
        await guard.resolve("https://nowhere.invalid/in")
