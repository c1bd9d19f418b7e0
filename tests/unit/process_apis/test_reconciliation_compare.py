"""The decision per document key: which difference, which probable cause, which totals."""

from __future__ import annotations

from process_apis.reconciliation.compare import Totals, differences
from process_apis.reconciliation.staging import Grouped, Side3

NONE = Side3(0, None, None, None, None, None, None)


def side(amount: int, *, tax: int | None = None, count: int = 1, kind: str = "invoice") -> Side3:
    return Side3(count, kind, "USD", amount, tax, "ref", "PS-1")


def group(
    gateway: Side3 = NONE,
    billing: Side3 = NONE,
    erp: Side3 = NONE,
    *,
    billed: int | None = None,
    link: str | None = None,
) -> Grouped:
    return Grouped("inv_1", gateway, billing, erp, billed, link)


def test_agreeing_sides_make_no_difference() -> None:
    assert (
        differences(
            group(
                side(1089, tax=89), side(1089, tax=89), side(1089, tax=89), billed=1089, link="in_1"
            )
        )
        == []
    )


def test_a_document_posted_twice_is_a_duplicate() -> None:
    found = differences(group(side(1089, tax=89), erp=side(2178, tax=178, count=2)))
    assert [(d.kind, d.cause) for d in found] == [
        ("duplicate_in_erp", "posted_twice_in_erp"),
        ("amount_mismatch", "amount_differs_net_and_tax"),
    ]


def test_tax_net_and_both_are_told_apart() -> None:
    ours = side(1089, tax=89)
    assert [d.cause for d in differences(group(ours, erp=side(1088, tax=88)))] == [
        "amount_differs_tax"
    ]
    assert [d.cause for d in differences(group(ours, erp=side(1088, tax=89)))] == [
        "amount_differs_net"
    ]
    assert [d.cause for d in differences(group(ours, erp=side(1000, tax=80)))] == [
        "amount_differs_net_and_tax"
    ]


def test_billing_disagreeing_with_what_the_gateway_billed() -> None:
    [found] = differences(
        group(side(1089, tax=89), side(989, tax=89), side(1089, tax=89), billed=1089, link="in_1")
    )
    assert (found.kind, found.cause, found.billing_amount) == (
        "amount_mismatch",
        "amount_differs_net",
        989,
    )


def test_a_refund_or_a_lost_dispute_the_erp_lacks_or_books_otherwise_has_its_own_cause() -> None:
    for kind, missing, amount in (
        ("refund", "refund_not_booked_in_erp", "refund_booked_for_another_amount"),
        ("dispute", "dispute_loss_not_journaled", "dispute_journaled_for_another_amount"),
    ):
        ours = side(-500, kind=kind)
        assert [(d.kind, d.cause) for d in differences(group(ours))] == [
            ("missing_in_erp", missing)
        ]
        assert [d.cause for d in differences(group(ours, erp=side(-400, kind="payment")))] == [
            amount
        ]
        assert differences(group(ours, erp=side(-500, kind=kind))) == []
        # what only the ERP holds keeps the general cause
        [unknown] = differences(group(erp=side(-500, kind=kind)))
        assert (unknown.document_type, unknown.cause) == (kind, "posted_in_erp_not_registered")


def test_totals_count_each_side_under_the_gateways_document_type() -> None:
    totals = Totals()
    totals.add(group(side(500, kind="adjustment"), erp=side(500, kind="invoice")))
    totals.add(group(erp=side(300, kind="invoice")))
    [adjustments, invoices] = totals.report()
    assert (adjustments.document_type, adjustments.gateway_total, adjustments.erp_total) == (
        "adjustment",
        500,
        500,
    )
    assert (invoices.document_type, invoices.gateway_count, invoices.erp_count) == ("invoice", 0, 1)
