"""The JSON depth guard counts brackets as they open, outside strings: what the parser
would recurse into, malformed or not."""

from __future__ import annotations

import pytest

from app.governance.hygiene import json_depth


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"42", 0),
        (b"[]", 1),
        (b'{"a": [{"b": [1, {"c": 2}]}]}', 5),
        (b"[[], [], [[]]]", 3),
        (b'["[[[[", "{{{{"]', 1),  # brackets inside strings do not nest
        (b'["a \\" [[[", []]', 2),  # nor after an escaped quote
        (b'["a\\\\", [[]]]', 3),  # an escaped backslash ends before the quote
        (b"[[[[", 4),  # an unclosed run counts as it opens
        (b'"unterminated [[', 2),  # an unterminated string hides nothing
        (b"[" * 40 + b"]" * 40, 40),
    ],
)
def test_the_depth_is_the_deepest_open_bracket_outside_strings(body: bytes, depth: int) -> None:
    assert json_depth(body) == depth


def test_a_batch_of_a_thousand_objects_is_as_deep_as_one() -> None:
    event = b'{"id": "e", "properties": {"tags": ["a", "[b"]}}'
    assert json_depth(b'{"events": [' + b", ".join([event] * 1000) + b"]}") == 5
