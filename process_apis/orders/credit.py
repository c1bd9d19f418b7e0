"""The credit decision on an accepted quote, from what the ERP says of the customer."""

from __future__ import annotations

from dataclasses import dataclass

from system_apis.erp.schemas import ErpCustomerCredit


@dataclass(frozen=True)
class CreditDecision:
    allowed: bool
    reason: str | None  # `blocked` or `over_credit_limit` when refused

    def facts(self, credit: ErpCustomerCredit, amount: int) -> dict[str, object]:
        """What a problem and the run say about the decision (minor units)."""
        return {
            "reason": self.reason,
            "blocked": credit.blocked,
            "balance": credit.balance,
            "credit_limit": credit.credit_limit,
            "order_amount": amount,
        }


def decide(credit: ErpCustomerCredit, amount: int) -> CreditDecision:
    """A blocked customer takes no order; with a credit limit, what it owes plus the order's
    net `amount` must stay within it. No limit in the ERP: only the block counts."""
    if credit.blocked:
        return CreditDecision(False, "blocked")
    if credit.credit_limit is not None and credit.balance + amount > credit.credit_limit:
        return CreditDecision(False, "over_credit_limit")
    return CreditDecision(True, None)
