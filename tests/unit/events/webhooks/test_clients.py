"""Each endpoint host name has a connection pool of its own, so a TLS connection made for
one name never carries another's delivery when both resolve to one address; a POST goes
to the checked address for the endpoint's name, is never redirected, and keeps only the
start of the answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from events.webhooks import clients
from events.webhooks.clients import EXCERPT_BYTES, TRANSPORT_ERRORS, HostClients
from events.webhooks.guard import Target, UrlGuard


async def test_host_names_never_share_a_session() -> None:
    pools = HostClients(timeout=1.0, concurrency=4)
    first = pools.for_host("hooks.example.com")
    assert pools.for_host("hooks.example.com") is first
    assert pools.for_host("hooks.example.org") is not first
    await pools.aclose()
    assert first.closed


async def test_too_many_sessions_are_closed_between_passes(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(clients, "MAX_HOSTS", 2)
    pools = HostClients(timeout=1.0, concurrency=4)
    made = [pools.for_host(f"h{n}.example.com") for n in range(2)]
    await pools.trim()
    assert not any(session.closed for session in made)
    made.append(pools.for_host("h2.example.com"))
    await pools.trim()
    assert all(session.closed for session in made)
    assert pools.for_host("h0.example.com") is not made[0]
    await pools.aclose()


async def test_a_host_has_as_many_slots_as_kept_alive_connections() -> None:
    pools = HostClients(timeout=1.0, concurrency=2)
    slot = pools.slot("hooks.example.com:8443")
    assert pools.slot("hooks.example.com:8443") is slot
    assert pools.slot("hooks.example.com") is not slot
    async with slot, slot:
        assert slot.locked()
    assert pools.for_host("hooks.example.com").connector.limit == 2  # type: ignore[union-attr]
    await pools.aclose()


class Seen:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, Seen]]:
    """A loopback receiver: /in answers 200 with a long body, /moved redirects to /in,
    /slow never answers in time."""
    seen = Seen()

    async def answer(request: web.Request) -> web.StreamResponse:
        seen.requests.append((request.path, request.headers["host"], await request.read()))
        if request.path == "/moved":
            raise web.HTTPFound("/in")
        if request.path == "/slow":
            await asyncio.sleep(1)
        return web.Response(text="x" * (EXCERPT_BYTES * 3))

    app = web.Application()
    app.router.add_post("/{name}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield port, seen
    await runner.cleanup()


async def target(port: int, path: str) -> Target:
    async def loopback(_host: str, _port: int) -> list[str]:
        return ["127.0.0.1"]

    guard = UrlGuard(https_only=False, allow_private=True, resolver=loopback)
    return await guard.resolve(f"http://hooks.test:{port}/{path}")


async def test_a_post_goes_to_the_checked_address_for_the_endpoints_name(
    server: tuple[int, Seen],
) -> None:
    port, seen = server
    pools = HostClients(timeout=1.0, concurrency=2)
    answer = await pools.post(await target(port, "in"), {"webhook-id": "evt_1"}, b"{}")
    await pools.aclose()
    assert answer.status_code == 200
    assert answer.excerpt == "x" * EXCERPT_BYTES
    assert seen.requests == [("/in", f"hooks.test:{port}", b"{}")]


async def test_a_redirect_is_answered_not_followed(server: tuple[int, Seen]) -> None:
    port, seen = server
    pools = HostClients(timeout=1.0, concurrency=2)
    answer = await pools.post(await target(port, "moved"), {}, b"{}")
    await pools.aclose()
    assert answer.status_code == 302
    assert [path for path, _, _ in seen.requests] == ["/moved"]


async def test_no_answer_in_time_is_a_transport_error(server: tuple[int, Seen]) -> None:
    port, _ = server
    pools = HostClients(timeout=0.2, concurrency=2)
    with pytest.raises(TRANSPORT_ERRORS):
        await pools.post(await target(port, "slow"), {}, b"{}")
    await pools.aclose()
