"""The per-process TTL cache of ERP reference data."""

from process_apis.cache import TtlCache, VersionedCache


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


def test_a_versioned_entry_is_served_only_for_the_version_it_was_read_at() -> None:
    cache: VersionedCache[str, str] = VersionedCache()
    assert cache.get("entity", 1) is None
    cache.put("entity", 1, "periods at 1")
    assert cache.get("entity", 1) == "periods at 1"
    assert cache.get("entity", 2) is None  # a close moved the version on
    cache.put("entity", 2, "periods at 2")
    assert cache.get("entity", 1) is None
    assert cache.get("entity", 2) == "periods at 2"
