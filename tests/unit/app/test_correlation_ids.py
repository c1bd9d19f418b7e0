"""Correlation ids: a sane one sent is kept; otherwise a random UUID is minted cheaply."""

from __future__ import annotations

import uuid

from app.governance.correlation import accept_or_mint
from tests.support.python_calls import python_calls


def test_a_sane_id_is_kept() -> None:
    assert accept_or_mint("order-42:retry.1") == "order-42:retry.1"


def test_a_minted_id_is_a_random_version_4_uuid_as_text() -> None:
    minted = {accept_or_mint(value) for value in (None, "", "bad id", "x" * 200) * 50}
    assert len(minted) == 200
    for value in minted:
        parsed = uuid.UUID(value)
        assert (str(parsed), parsed.version, parsed.variant) == (value, 4, uuid.RFC_4122)


def test_minting_builds_no_uuid_object() -> None:
    with python_calls() as called:
        accept_or_mint(None)
    assert [name for name in called if "uuid" in name] == []
