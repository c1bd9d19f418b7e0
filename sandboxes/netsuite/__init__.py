"""A NetSuite REST record API sandbox (`/services/rest/record/v1`), in memory.

The slice a gateway needs to book through NetSuite: subsidiaries (one per demo
company, internal ids `1` and `2`), currencies, sales tax items, G/L accounts, one
service item (`SERVICE_ITEM_ID`) for invoice lines, the demo catalog's service items
(read only, `catalog`), customers, invoices, credit memos (posted when saved, applied to
the invoice they are created from, reducing its amount due; a standalone one's open
credit applied to invoices later by `PATCH` of its `apply` sublist), customer payments
(transformed from the invoice they pay, `POST /invoice/{id}/!transform/customerPayment`,
posted when saved, re-applied by `PATCH` of their `apply` sublist, e.g. from the invoice
to a journal entry's A/R debit for a returned payment, the invoice then `open` again) and
journal entries (balanced; posted once `approved`, as with journal approval on; a line on
Accounts Receivable names its customer, `entity`). It keeps NetSuite's ways that matter
to an adapter:

- records are addressed by internal id or by external id (`/customer/eid:C0001`);
  `PUT /customer/eid:{externalId}` upserts; creates and updates answer `204 No
  Content` with the record's URL in `Location`, and the record is read back by GET;
- queries use `q` with `<field> IS "<text>"`, `<field> ANY_OF [<id>, ...]` and
  `<field> ON_OR_AFTER "M/D/YYYY"` (or `ON_OR_BEFORE`) conditions joined by `AND`, and
  answer a page of ids in internal id order (`items`, `count`, `offset`, `totalResults`,
  `hasMore`), paged by `offset` and `limit` (at most 1000);
- references are `{"id": ...}`; amounts are JSON numbers; dates `YYYY-MM-DD`;
- sublists come back only as links unless `expandSubResources=true`;
- an external id belongs to one record of a type: a second create with it is refused;
- an invoice pending approval (`approvalStatus` 1) is not posted; approving it (2)
  posts it, which is refused for a `tranDate` before the first open day (the demo
  estate's closed period); an approved invoice's dates cannot change. Lines are
  priced `quantity x rate`, taxed by their tax item's rate, rounded per line.
- an invoice or credit memo line may name its G/L `account` (a deferred revenue account,
  instead of the item's income account); it comes back on the line when the sublist is
  expanded (a credit memo's always is), and that is how its posting to the account is
  read: the sandbox keeps no general ledger of its own.

Refusals use NetSuite's error body (`type`, `title`, `status`, `o:errorDetails` with
`detail` and `o:errorCode`): `INVALID_CONTENT` for a malformed body, an unknown field
or a bad `q`, `INVALID_KEY_OR_REF` for a reference to nothing, `INVALID_FLD_VALUE` for
a value the field cannot take (a payment applied to another customer's document),
`USER_ERROR` for business rules, `NONEXISTENT_ID` (404) for an unknown record.

Modules: `wire` (the wire format), `records` (the state), `api` (shared lookups and the
reference records), one per record type (`customers`, `invoices`, `credit_memos`,
`payments`, `applications`, `journals`, `items`), and `app`.
"""

from sandboxes.netsuite.app import create_app
from sandboxes.netsuite.records import NetSuiteState
from sandboxes.netsuite.wire import API_ROOT, SERVICE_ITEM_ID

__all__ = ["API_ROOT", "SERVICE_ITEM_ID", "NetSuiteState", "create_app"]
