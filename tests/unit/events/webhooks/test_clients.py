"""Each endpoint host name has a connection pool of its own, so a TLS connection made for
one name never carries another's delivery when both resolve to one address."""

from __future__ import annotations

from events.webhooks import clients
from events.webhooks.clients import HostClients


async def test_host_names_never_share_a_client() -> None:
    pools = HostClients(timeout=1.0, concurrency=4)
    first = pools.for_host("hooks.example.com")
    assert pools.for_host("hooks.example.com") is first
    assert pools.for_host("hooks.example.org") is not first
    assert first.follow_redirects is False
    await pools.aclose()
    assert first.is_closed


async def test_too_many_clients_are_closed_between_passes(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(clients, "MAX_HOSTS", 2)
    pools = HostClients(timeout=1.0, concurrency=4)
    made = [pools.for_host(f"h{n}.example.com") for n in range(2)]
    await pools.trim()
    assert not any(client.is_closed for client in made)
    made.append(pools.for_host("h2.example.com"))
    await pools.trim()
    assert all(client.is_closed for client in made)
    assert pools.for_host("h0.example.com") is not made[0]
    await pools.aclose()


async def test_a_host_has_as_many_slots_as_kept_alive_connections() -> None:
    pools = HostClients(timeout=1.0, concurrency=2)
    slot = pools.slot("https://hooks.example.com:8443/a")
    assert pools.slot("https://hooks.example.com:8443/b") is slot
    assert pools.slot("https://hooks.example.com/a") is not slot
    async with slot, slot:
        assert slot.locked()
    pool = pools.for_host("hooks.example.com")._transport._pool  # type: ignore[attr-defined]
    assert pool._max_connections == pool._max_keepalive_connections == 2
    await pools.aclose()
