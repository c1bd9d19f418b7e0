"""A CRM / channel platform sandbox: partners, commission plans, deal registrations.

There is no vendor specification for CRM channel data, so this sandbox defines its
own wire format, the *Channel API v1*, and `system_apis.crm.adapters.channel` speaks
it. The format, under the API root `/api/v1`:

- authentication: `Authorization: Bearer <token>` (any non-empty token); without one,
  `401`;
- JSON bodies in camelCase; dates `YYYY-MM-DD`, instants ISO 8601 in UTC (`...Z`);
  rates are integer basis points (`rateBps`); unknown body fields are refused;
- partners are keyed by `partnerRef` (the integrating system's id, here Ledgergate's
  `prt_...`), customers by `customerRef`; deal registrations get the CRM's ids
  (`DR-000001`);
- `Idempotency-Key` on a POST that creates something: the same key and body answer
  the first response again (with `Idempotent-Replayed: true`); the same key with
  another body is a `409 idempotency_key_reused`;
- errors: `{"error": {"code": "...", "message": "...", "field": "..."}}` with `400
  invalid_request` (malformed body or parameter), `401 unauthenticated`, `404
  not_found`, `409 invalid_transition` / `idempotency_key_reused`, `422` business
  rules (`partner_inactive`, `rate_card_not_after_latest`, `expiry_not_in_future`).

Operations (paths under the root):

- `GET /partners?status=`: `{"data": [partner, ...]}`;
- `GET /partners/{partnerRef}`: a partner (`partnerRef`, `name`, `status`, `tier`,
  `commissionPlan`, `updatedAt`);
- `GET /partners/{partnerRef}/eligibility?customerRef=&productTier=&on=`: the question
  back, with `eligible`, `reason` and `dealRegistrationId`;
- `GET /commission-plans/{code}`: `code`, `name`, `rateCards` (`version`,
  `effectiveFrom`, `rates`: `productTier`, `rateBps`), oldest first;
- `POST /commission-plans/{code}/rate-cards`: body `effectiveFrom`, `rates`; `201` with
  the plan. Versions are append-only: a new one must start after the latest;
- `POST /deal-registrations`: body `partnerRef`, `customerRef`, `productTiers`,
  `expiresOn`, `note`; `201` with the registration;
- `GET /deal-registrations?partnerRef=&customerRef=&status=`: `{"data": [...]}`;
- `GET /deal-registrations/{id}`: a registration (the above, `id`, `status`,
  `registeredOn`, `decidedOn`);
- `POST /deal-registrations/{id}/approve` and `/reject`: body `{"note": ...}` or none;
- `GET /accounts/{customerRef}/status`, `PUT /accounts/{customerRef}/status` (body
  `status`: `active` or `suspended`): a customer account's standing (`customerRef`,
  `status`, `statusChangedAt`), `active` until suspended; setting it again answers it
  unchanged;
- `POST /quotes`: body `customerRef`, `partnerRef` (optional), `serviceStart`, `lines`
  (`priceRef`, `quantity`); `201` with the quote (`Q-000001`, `status` `draft`);
  `GET /quotes/{id}`; `POST /quotes/{id}/accept`: the quote `accepted` (again: unchanged).

Accepting a quote records a `quote.accepted` event (`{"id": "evt_...", "type",
"createdAt", "data": quote}`), sent after the answer to each webhook endpoint of the
state, signed with `Channel-Signature` (Stripe's `t=...,v1=...` HMAC scheme under the
endpoint's secret) and retried until answered 2xx (`webhooks`).

A registration is `pending` until approved or rejected; a pending or approved one
whose `expiresOn` has come (`expiresOn <= today`) reads as `expired`. Deciding again
the same way answers the registration unchanged; any other transition is a `409`.

Eligibility on a date D: the partner is `active`, and one of its registrations for
the customer covers the product tier, was approved on or before D and expires after
D. Otherwise the reason names the nearest miss, in this order: `partner_inactive`,
`deal_registration_expired`, `deal_registration_not_yet_approved`,
`deal_registration_pending`, `deal_registration_rejected`, `no_deal_registration`.

The state is seeded with the demo estate's channel: Northwind Resellers
(`prt_..01`, gold, plan `reseller-20`) holding an approved registration for Acme
Robotics (`cus_..01`), and Fabrikam Referrals (`prt_..02`, registered, plan
`referral-10`) holding one for Initech (`cus_..03`), both for every product tier.

Modules, one per resource: `wire` (the API's conventions, errors and readers), `state`
(the records and the seeded channel), `accounts`, `partners` (and eligibility), `commission_plans`,
`deal_registrations`, `quotes`, `webhooks` (signed event delivery) and `app` (the routes).
"""

from sandboxes.crm.app import create_app
from sandboxes.crm.state import (
    CommissionPlan,
    CrmState,
    Partner,
    Registration,
    WebhookEndpoint,
    seeded_state,
)
from sandboxes.crm.wire import API_ROOT, ChannelError

__all__ = [
    "API_ROOT",
    "ChannelError",
    "CommissionPlan",
    "CrmState",
    "Partner",
    "Registration",
    "WebhookEndpoint",
    "create_app",
    "seeded_state",
]
