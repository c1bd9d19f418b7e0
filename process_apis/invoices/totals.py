"""Whether the ERP booked an invoice with our totals, within the currency's rounding tolerance."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core.models.invoice import InvoiceRow
from process_apis.invoices.errors import ErpTotalsMismatch
from system_apis.erp.schemas import ErpSalesInvoice


@dataclass(frozen=True)
class Totals:
    """An invoice's subtotal, tax and total, in minor units."""

    subtotal: int
    tax_total: int
    total: int

    @classmethod
    def of_invoice(cls, invoice: InvoiceRow) -> Totals:
        return cls(subtotal=invoice.subtotal, tax_total=invoice.tax_total, total=invoice.total)

    @classmethod
    def of_erp(cls, document: ErpSalesInvoice) -> Totals:
        return cls(
            subtotal=document.total_excluding_tax,
            tax_total=document.total_tax,
            total=document.total_including_tax,
        )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def differs_from(self, other: Totals, *, tolerance: int) -> bool:
        """Whether any of the three amounts differs by more than `tolerance`."""
        return any(
            abs(ours - theirs) > tolerance
            for ours, theirs in zip(_amounts(self), _amounts(other), strict=True)
        )


def _amounts(totals: Totals) -> tuple[int, int, int]:
    return totals.subtotal, totals.tax_total, totals.total


def totals_mismatch(
    ours: Totals, document: ErpSalesInvoice, *, currency: str, tolerance: int
) -> ErpTotalsMismatch | None:
    """The problem to raise when the ERP's document disagrees with `ours`, else None."""
    erp = Totals.of_erp(document)
    if not ours.differs_from(erp, tolerance=tolerance):
        return None
    return ErpTotalsMismatch(
        f"the ERP posted {document.number or document.id} for {erp.total} {currency} "
        f"(tax {erp.tax_total}) where the invoice says {ours.total} (tax {ours.tax_total})",
        ours=ours.as_dict(),
        erp=erp.as_dict(),
        currency=currency,
        tolerance=tolerance,
        erp_document_id=document.id,
        erp_document_number=document.number,
    )
