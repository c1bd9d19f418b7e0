"""Business problems of sales orders, each with its own stable type."""

from __future__ import annotations

from core.errors import BusinessRuleViolation, Conflict, LedgergateError


class CustomerCreditRefused(BusinessRuleViolation):
    """The ERP blocks the customer, or the order would take it over its credit limit; the
    order is rejected (`LEDGERGATE_ORDER_CREDIT_POLICY=refuse`)."""

    slug = "customer-credit-refused"
    title = "The customer's credit in the ERP does not cover the order"
    caller_correctable = True


class CustomerCreditHeld(BusinessRuleViolation):
    """As `CustomerCreditRefused`, but the order waits in the exception queue for finance
    (`LEDGERGATE_ORDER_CREDIT_POLICY=hold`): replayed once the credit allows it."""

    slug = "customer-credit-held"
    title = "The order is held: the customer's credit in the ERP does not cover it"


class ProductNotMapped(BusinessRuleViolation):
    """A line's product names no ERP item (reference data: the product's `erp_item`)."""

    slug = "product-not-mapped"
    title = "A product of the order is not mapped to an ERP item"
    caller_correctable = True


class QuoteAlreadyOrdered(BusinessRuleViolation):
    """The quote became an order already, with other lines or for another customer."""

    slug = "quote-already-ordered"
    title = "The quote is already an order with other content"
    caller_correctable = True


class ErpOrderAmountMismatch(LedgergateError):
    """The ERP priced the sales order at another net amount than the quote: never a success;
    the run waits in the exception queue until the ERP order is corrected and replayed."""

    status_code = 502
    slug = "erp-order-amount-mismatch"
    title = "The ERP's sales order amount differs from the order's"


class OrderInErp(Conflict):
    """The ERP holds the order already: it is canceled there, never by discarding its run."""

    slug = "sales-order-in-erp"
    title = "The ERP holds the sales order; cancel it in the ERP"
