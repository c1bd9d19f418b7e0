"""The Business Central sandbox finds documents by external document number through an
index, as BC does by key: a create with a number seen before and a `$filter` of equalities
on it look up, not scan the company's documents; a deleted draft leaves the index."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.requests import Request

from sandboxes.business_central.documents import SalesInvoice
from sandboxes.business_central.indexed import Documents
from sandboxes.business_central.odata import BcFault, select_properties
from tests.unit.sandboxes.test_bc_batch import ROOT, US, bc, document  # noqa: F401 (fixture)


class Unscannable:
    def __iter__(self) -> Iterator[Any]:
        raise AssertionError("scanned every document")


def request(query: str) -> Request:
    return Request({"type": "http", "query_string": query.encode(), "headers": []})


PROPERTIES = {"externalDocumentNumber": lambda record: record["external"]}


def test_equalities_on_the_key_look_up_and_keep_the_books_order() -> None:
    records = [{"external": "B"}, {"external": "A"}]
    keyed = (
        "externalDocumentNumber",
        lambda values: [r for r in records if r["external"] in values],
    )
    query = "$filter=externalDocumentNumber eq 'A' or externalDocumentNumber eq 'B'"

    found = select_properties(
        request(query), "salesInvoice", Unscannable(), PROPERTIES, keyed=keyed
    )

    assert found == records


def test_a_filter_on_another_property_or_a_number_still_scans() -> None:
    keyed = ("externalDocumentNumber", lambda _values: [])
    with pytest.raises(AssertionError, match="scanned"):
        select_properties(
            request("$filter=number eq 'X'"),
            "e",
            Unscannable(),
            {**PROPERTIES, "number": str},
            keyed=keyed,
        )
    with pytest.raises(BcFault):  # a number compared with a text is refused, as before
        select_properties(
            request("$filter=externalDocumentNumber eq 5"),
            "e",
            [{"external": "A"}],
            PROPERTIES,
            keyed=keyed,
        )


def test_the_index_follows_what_is_added_replaced_and_deleted() -> None:
    documents: Documents[Any] = Documents()
    first, second = (type("Doc", (), {"external_document_number": "E-1"})() for _ in range(2))
    documents["1"] = first
    documents["2"] = second
    assert documents.with_external(["E-1", "E-2"]) == [first, second]
    del documents["1"]
    assert documents.with_external(["E-1"]) == [second]
    del documents["2"]
    assert documents.with_external(["E-1"]) == []
    assert not documents


async def test_the_api_answers_a_repeated_number_and_a_filter_from_the_index(bc: Any) -> None:  # noqa: F811
    client, app = bc
    for index in range(3):
        answer = await client.post(f"{ROOT}/$batch", json={"requests": document(index)})
        assert answer.status_code == 200, answer.text
    invoices: Documents[SalesInvoice] = app.state.business_central.books[US.id].invoices
    repeated = await client.post(
        f"{ROOT}/companies({US.id})/salesInvoices", json=document(1)[0]["body"]
    )
    assert repeated.status_code == 201
    assert repeated.json()["id"] == invoices.with_external(["EXT-1"])[0].id
    listed = await client.get(
        f"{ROOT}/companies({US.id})/salesInvoices",
        params={
            "$filter": "externalDocumentNumber eq 'EXT-2' or externalDocumentNumber eq 'EXT-0'"
        },
    )
    assert [i["externalDocumentNumber"] for i in listed.json()["value"]] == ["EXT-0", "EXT-2"]
    assert len(invoices) == 3
