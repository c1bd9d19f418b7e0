import re

import pytest

from core.ids import PREFIXES, id_pattern, new_id


@pytest.mark.parametrize("kind", sorted(PREFIXES))
def test_new_ids_carry_their_prefix_and_match_their_pattern(kind: str) -> None:
    value = new_id(kind)
    assert value.startswith(PREFIXES[kind] + "_")
    assert re.match(id_pattern(kind), value)


def test_ids_are_unique_and_time_ordered() -> None:
    values = [new_id("invoice") for _ in range(2000)]
    assert len(set(values)) == len(values)
    stamps = [v[4:14] for v in values]  # the 48-bit millisecond prefix
    assert stamps == sorted(stamps)


def test_an_id_of_another_kind_does_not_match() -> None:
    assert not re.match(id_pattern("invoice"), new_id("customer"))
