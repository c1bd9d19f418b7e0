"""A deprecated operation's successor link: its path parameters percent-encoded as `quote`
encodes them, an id's taken as it is."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from app.governance.versioning import successor_url
from tests.support.python_calls import python_calls

TEMPLATE = "/v2/invoices/{invoice_id}/postings"


@pytest.mark.parametrize(
    "value",
    ["inv_01jd0000000000000000000000", "a.b-c~d_e", "", "a/b", "a b", "é", "50%", "ıK", 42],
)
def test_a_parameter_is_encoded_as_quote_encodes_it(value: object) -> None:
    expected = TEMPLATE.format(invoice_id=quote(str(value), safe=""))
    assert successor_url(TEMPLATE, {"invoice_id": value}) == expected


def test_an_id_is_taken_without_quote() -> None:
    with python_calls() as called:
        successor_url(TEMPLATE, {"invoice_id": "inv_01jd0000000000000000000000"})
    assert [name for name in called if "/urllib/" in name] == []
