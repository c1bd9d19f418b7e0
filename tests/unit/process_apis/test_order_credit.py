"""The credit decision on an accepted quote: the block first, then balance plus the order
against the limit; no limit in the ERP leaves only the block."""

from __future__ import annotations

import pytest

from process_apis.orders.credit import decide
from system_apis.erp.schemas import ErpCustomerCredit


def credit(
    *, balance: int = 0, limit: int | None = None, blocked: bool = False
) -> ErpCustomerCredit:
    return ErpCustomerCredit(
        number="C1", currency="USD", balance=balance, credit_limit=limit, blocked=blocked
    )


@pytest.mark.parametrize(
    ("standing", "amount", "reason"),
    [
        (credit(), 1_000_000, None),
        (credit(balance=400, limit=1000), 600, None),
        (credit(balance=400, limit=1000), 601, "over_credit_limit"),
        (credit(balance=0, limit=0), 1, "over_credit_limit"),
        (credit(blocked=True), 1, "blocked"),
        (credit(balance=0, limit=10_000, blocked=True), 1, "blocked"),
    ],
)
def test_the_decision(standing: ErpCustomerCredit, amount: int, reason: str | None) -> None:
    decision = decide(standing, amount)
    assert (decision.allowed, decision.reason) == (reason is None, reason)


def test_a_refusal_states_its_facts_in_minor_units() -> None:
    standing = credit(balance=400, limit=1000)
    assert decide(standing, 700).facts(standing, 700) == {
        "reason": "over_credit_limit",
        "blocked": False,
        "balance": 400,
        "credit_limit": 1000,
        "order_amount": 700,
    }
