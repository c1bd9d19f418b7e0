"""A Dynamics 365 Business Central (API v1.0) sandbox: BC's wire format, in memory.

Serves `/v2.0/{environment}/api/v1.0/...` for companies, currencies, customers, tax
groups, G/L accounts and items (the demo chart and catalog, read only), sales invoices
and sales credit memos with their lines and their `Microsoft.NAV.post` actions,
general journals with their lines and post action, general ledger entries, and
customer payment journals with their payments, seeded from the demo estate. It keeps
BC's rules that matter to the gateway: `@odata.etag` and `If-Match` on updates, lines
that compute their own tax from the line's tax group, posting that assigns a posted
number and refuses closed periods, and one document per external document number.

Money moves the way the gateway relies on:

- a posted invoice owes its total (`remainingAmount`); a credit memo that refers to
  it (`invoiceId` or `invoiceNumber`, which must be a posted invoice of the same
  customer and currency) is refused at posting when its total exceeds what the
  invoice still owes, and posting applies it: the invoice owes that much less. An
  invoice that owes nothing is `Paid`, and so is a memo applied in full.
- a sales line of `lineType` `Account` with an `accountId` (of `/accounts`) is booked to
  that G/L account: posting the document writes a general ledger entry per such line,
  its amount excluding tax credited by an invoice and debited by a credit memo (the
  receivable and tax sides are not kept). Lines without an account write none.
- posting a journal writes general ledger entries and empties the journal. A
  journal with a balancing account balances every line against it (one entry per
  line and one opposite entry on the balancing account); without one, the lines
  of each document number and posting date must add up to zero, or the post is
  refused with BC's "out of balance" message. Lines may only use the accounts of
  the demo chart (`CHART_OF_ACCOUNTS`) and the `G/L Account` account type.
- API v1.0 has no post action for customer payment journals: in BC a payment line
  waits until someone posts the journal. The sandbox posts each payment as it is
  created, so a payment that applies to an invoice (`appliesToInvoiceId` or
  `appliesToInvoiceNumber`) must be positive, dated in an open period, for the
  invoice's customer and no more than the invoice still owes; it reduces what the
  invoice owes at once. No ledger entries are written for payments.

A sales document may be created with its lines in one request (a deep insert: the
lines in the body's `salesInvoiceLines`), and `POST .../api/v1.0/$batch` serves OData's
JSON batch of up to 100 operations, each counted against the limits (`batch`).

Lists take `$top` and `$skip`. `$filter` takes comparisons (`eq`, `ne`, `gt`, `ge`,
`lt`, `le`) of one property with a quoted text, a date (`2025-06-01`) or an integer,
joined by `and`. No list is ever cut short by the server, so no `@odata.nextLink` is
sent.

Refusals use BC's OData error body `{"error": {"code", "message"}}`, BC's documented
error codes and, where BC has one, BC's own message text (with BC's
`CorrelationId` suffix):

- closed period (posting date before the first open day): 400
  `Application_DialogException`, "Posting Date is not within your range of allowed
  posting dates."
- a credit memo over what its invoice owes, an unbalanced journal, a payment the
  invoice cannot take: 400 `Application_DialogException`
- posting a draft without lines: 400 `Application_DialogException`, "There is
  nothing to post."
- changing a posted invoice or adding lines to it, an invoice without customer:
  400 `Application_DialogException`
- unknown tax group, currency or G/L account in a body: 400
  `Internal_InvalidTableRelation`
- unknown customer number or invoice in a body: 400 `Internal_RecordNotFound`
- customer number, line sequence, journal code or journal line number already
  taken: 400 `Internal_EntityWithSameKeyExists`
- text longer than its field: 400 `Application_StringExceededLength`
- malformed body, unknown property, unsupported `$filter`, `$expand`, `$top` or
  `$skip`: 400 `BadRequest`
- PATCH without `If-Match`: 400 `BadRequest_InvalidToken`; an `If-Match` that is
  not the current etag: 412 `Request_EntityChanged`
- unknown company: 404 `Internal_CompanyNotFound`; unknown customer, document,
  journal or journal line id: 404 `Internal_RecordNotFound`; unknown path or method: 404
  `BadRequest_ResourceNotFound` / 405 `BadRequest_MethodNotAllowed`

Dates are written as date-time strings (midnight UTC), as the v1.0 OpenAPI document
declares, and read in either form. Creating a sales invoice or credit memo whose
external document number exists answers `201` with the existing document (the only
status the document declares for the create) instead of making a second one. Such
repeated creates are counted and served at `GET /_sandbox/repeated-creates`: a
gateway that looks before it writes sends none, and the reliability harness checks
that it relied on this rule for none of its documents.

Modules: `odata` (the wire format), `batch` (JSON `$batch`), `master_data`,
`documents`, `ledger`, `books` (the state), `api` (the handlers' shared rules), one per
resource (`accounts`, `customers`, `items`, `sales_invoices`, `credit_memos`, `journals`,
`payments`), and `app`.
"""

from sandboxes.business_central.app import create_app
from sandboxes.business_central.books import BusinessCentralState
from sandboxes.business_central.master_data import Customer
from sandboxes.business_central.odata import API_ROOT, REPEATED_CREATES_PATH, TAX_PERCENT

__all__ = [
    "API_ROOT",
    "REPEATED_CREATES_PATH",
    "TAX_PERCENT",
    "BusinessCentralState",
    "Customer",
    "create_app",
]
