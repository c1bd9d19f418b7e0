import random
import re

import pytest

from core.ids import PREFIXES, encode_ulid, id_pattern, new_id
from tests.support.python_calls import profiled


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


def _spelled_one_character_at_a_time(value: int) -> str:
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(alphabet[index])
    return "".join(reversed(chars))


@pytest.mark.parametrize(
    "value",
    [0, 1, 31, 32, 1023, 1024, 2**80 - 1, 2**127, 2**128 - 1, 0x0123456789ABCDEF0123456789ABCDEF],
)
def test_a_ulid_is_spelled_in_crockford_base32_most_significant_first(value: int) -> None:
    assert encode_ulid(value) == _spelled_one_character_at_a_time(value)


def test_random_ulids_are_spelled_as_one_character_at_a_time() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        value = rng.getrandbits(128)
        assert encode_ulid(value) == _spelled_one_character_at_a_time(value)


def test_a_new_id_costs_a_handful_of_calls() -> None:
    """Ids are minted several times per request (runs, steps, audit rows); the encoding
    once cost two calls per character. Counted: `new_id`, `encode_ulid`, the clock, the
    random bytes, their integer, the `join`, and the block's exit and its `disable`."""
    new_id("invoice")
    with profiled() as seen:
        new_id("invoice")
    assert seen.total_calls == 8
