"""A support desk sandbox: entitlements, tickets routed by entitlement, service credits.

Like the CRM, the support desk has no vendor specification here, so the sandbox
defines its wire format, the *Desk API v2*, which `system_apis.support.adapters.desk`
speaks. Under the API root `/desk/v2`:

- authentication: `Authorization: Token <token>` (any non-empty token), else `401`;
- JSON bodies in snake_case; instants ISO 8601 in UTC; money as a decimal string in
  major units plus a currency (`"amount": "15.00", "currency": "USD"`); unknown body
  fields are refused;
- customers are `customer_ref` / `requester_ref` (the integrating system's ids, here
  `cus_...`); the desk's own ids are `ENT-1`, `TCK-1001`, `SC-1`;
- `Idempotency-Key` on the creating POSTs: the same key and body answer the first
  response again (`Idempotent-Replayed: true`), another body is a `409
  idempotency_key_reused`;
- errors: `{"errors": [{"code": "...", "detail": "...", "field": "..."}]}` with `400
  invalid`, `401 unauthorized`, `404 not_found`, `409 conflict` (a state that does not
  allow it, `entitlement_exists`, `idempotency_key_reused`), `422` business rules
  (`requester_mismatch`).

Operations (paths under the root):

- `GET /customers/{ref}/entitlements`: `{"entitlements": [...]}`, oldest first;
- `POST /customers/{ref}/entitlements`: body `product_ref`, `tier`; `201` new, `200`
  the same active one again, `409 entitlement_exists` for another tier;
- `PATCH /entitlements/{id}`: body `tier`; `409` once revoked;
- `GET /customers/{ref}/account`, `PUT /customers/{ref}/account` (body `status`:
  `active` or `suspended`): the customer's account status (`active` until suspended);
  setting it again answers it unchanged;
- `DELETE /entitlements/{id}`: `200` with the entitlement revoked (again: unchanged);
- `POST /tickets`: body `requester_ref`, `subject`, `description`; `201` with the
  ticket, its `priority` and `sla`;
- `GET /tickets/{id}`: the ticket;
- `POST /tickets/{id}/service_credits`: body `customer_ref`, `invoice_ref`, `amount`,
  `currency`, `reason`, `note`; `201`;
- `GET /service_credits?ticket_id=&status=`: `{"service_credits": [...]}`;
- `GET /service_credits/{id}`: the service credit;
- `POST /service_credits/{id}/decision`: body `decision` (`approved` or `rejected`),
  `note`; `200`. Deciding again the same way answers it unchanged; the other way is
  a `409`.

Routing (the desk's SLA policy, `SLA_POLICY`): a new ticket takes the priority of the
requester's highest active entitlement tier: `enterprise` → `urgent` (first response
within 60 minutes), `pro` → `high` (240), `starter` → `normal` (480), none → `low`
(2880). A suspended account's tickets get no premium queue (`low`, as with no
entitlement) and carry the flag `account_suspended`. The state starts empty:
entitlements are granted by the gateway's workflows.

Modules, one per resource: `wire` (the API's conventions, errors and readers), `state`
(the records), `accounts`, `entitlements`, `tickets`, `service_credits` and `app` (the routes).
"""

from sandboxes.support.app import create_app
from sandboxes.support.state import DeskState, Entitlement, ServiceCredit, Ticket
from sandboxes.support.wire import API_ROOT, SLA_POLICY, DeskError

__all__ = [
    "API_ROOT",
    "SLA_POLICY",
    "DeskError",
    "DeskState",
    "Entitlement",
    "ServiceCredit",
    "Ticket",
    "create_app",
]
