"""The per-process TTL cache of ERP reference data."""

from process_apis.cache import TtlCache


def test_an_entry_is_served_until_its_ttl_passes() -> None:
    now = [100.0]
    cache: TtlCache[str, frozenset[str]] = TtlCache(60.0, clock=lambda: now[0])
    assert cache.get("company") is None
    cache.put("company", frozenset({"STANDARD"}))
    now[0] = 159.9
    assert cache.get("company") == frozenset({"STANDARD"})
    now[0] = 160.0
    assert cache.get("company") is None
    assert cache.get("other") is None


def test_a_put_restarts_the_ttl() -> None:
    now = [0.0]
    cache: TtlCache[str, int] = TtlCache(10.0, clock=lambda: now[0])
    cache.put("company", 1)
    now[0] = 9.0
    cache.put("company", 2)
    now[0] = 18.0
    assert cache.get("company") == 2
