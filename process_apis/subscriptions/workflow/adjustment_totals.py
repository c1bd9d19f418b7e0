"""What billing charged for an amendment's proration, and whether the ERP books exactly that.

Billing is the tax engine: the adjustment's line takes the new product's tax code when
billing taxed the proration, and the legal entity's untaxed ERP tax group
(`LEDGERGATE_LEDGER__UNTAXED_TAX_CODES`) when it charged none, so the ERP adds no tax the
customer was never charged. The ERP's draft must then carry billing's net, tax and total
(within the currency's `ledger.totals_tolerance`); otherwise the amendment fails with
`amendment-erp-totals-mismatch` before the draft is posted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from process_apis.subscriptions.errors import AdjustmentTotalsMismatch
from system_apis.billing.schemas import ProrationPreview
from system_apis.erp.schemas import ErpSalesCreditMemo, ErpSalesInvoice


@dataclass(frozen=True)
class Charged:
    """Billing's proration as the adjustment document books it: unsigned (a credit memo
    credits a net credit), in minor units."""

    subtotal: int
    tax_total: int
    total: int

    @classmethod
    def of(cls, preview: ProrationPreview) -> Charged:
        sign = -1 if preview.total < 0 else 1
        subtotal, tax = sign * preview.total, sign * preview.tax
        return cls(subtotal=subtotal, tax_total=tax, total=subtotal + tax)

    @classmethod
    def of_erp(cls, document: ErpSalesInvoice | ErpSalesCreditMemo) -> Charged:
        return cls(
            subtotal=document.total_excluding_tax,
            tax_total=document.total_tax,
            total=document.total_including_tax,
        )

    def tax_code(self, product_tax_code: str, untaxed_tax_code: str | None) -> str:
        """The ERP tax group of the adjustment's line."""
        return untaxed_tax_code if untaxed_tax_code and not self.tax_total else product_tax_code

    def mismatch(
        self,
        document: ErpSalesInvoice | ErpSalesCreditMemo,
        *,
        amendment_id: str,
        tolerance: int,
    ) -> AdjustmentTotalsMismatch | None:
        """The problem to raise when the ERP's document books other totals, else None."""
        erp = Charged.of_erp(document)
        pairs = zip(asdict(self).values(), asdict(erp).values(), strict=True)
        if all(abs(ours - theirs) <= tolerance for ours, theirs in pairs):
            return None
        return AdjustmentTotalsMismatch(
            f"the ERP drafted the adjustment of amendment {amendment_id} for {erp.total} "
            f"{document.currency} (tax {erp.tax_total}) where billing charged {self.total} "
            f"(tax {self.tax_total}); it is left unposted",
            billing=asdict(self),
            erp=asdict(erp),
            currency=document.currency,
            tolerance=tolerance,
            erp_document_id=document.id,
        )
