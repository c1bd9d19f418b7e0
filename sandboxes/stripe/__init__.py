"""A Stripe sandbox: the slice of Stripe's API (version 2020-08-27) that Ledgergate uses.

It speaks Stripe's wire format at the API root (`/v1/...`): bearer secret keys
(any `sk_test_...` key; others get Stripe's `401`), form bodies and query strings in
bracket notation, `Idempotency-Key` replay, typed error bodies, cursor lists
(newest first, `limit` and `starting_after`), Stripe-style ids and unix timestamps.
State lives in memory (`StripeState`).

Covered: customers (create, retrieve, update, list by `email`), invoice items (create),
invoices (create from the customer's pending items, finalize, pay, retrieve, list,
upcoming), products (create, retrieve, list), prices (create, retrieve, list),
subscriptions (create, retrieve, update items with prorations, cancel), credit notes
(create, preview, retrieve, list; on a paid invoice `refund_amount`, `credit_amount` and
`out_of_band_amount`), charges (retrieve), refunds (create) and disputes (retrieve,
close; `decide_dispute` for the card network's decision). Each operation accepts the
documented parameters it implements and refuses any other as `parameter_unknown`, like
Stripe does for a parameter it does not know. Stripe has no customer currency parameter:
a customer's `currency` is set by its first invoice item or subscription; Ledgergate
keeps its canonical currency in `metadata[currency]`. Payment succeeds unless the
customer's default payment method is one of Stripe's failing test payment methods.

Subscriptions bill in advance for periods counted from their creation (`month` and
`year` keep the day of the month). Changing items prorates the way Stripe documents
it: to the second, the unused time on the old price credited and the remaining time
on the new price charged, as separate `proration: true` invoice items over
`[proration_date, current_period_end]`. A change may not alter the billing interval
(Stripe would restart the cycle; that is not modelled). The clock is
`StripeState.clock`: requests first bill every period it has moved past, so a
`ManualClock` drives renewals, and so do test clocks over HTTP (`POST
/v1/test_helpers/test_clocks`, then `.../{id}/advance`, as Stripe's Test Clocks; the
whole sandbox account follows the one clock) for a sandbox running in its own process.

Collecting an invoice charges the customer's `invoice_settings[default_payment_method]`,
where Stripe's test payment methods decide the outcome (`_charge`): a declined payment
turns the invoice's subscription `past_due`, and paying that invoice later (`POST
/v1/invoices/{id}/pay`) makes it `active` again. Events (`invoice.finalized`,
`invoice.paid`, `invoice.payment_failed`, `customer.subscription.updated` and
`.deleted`, `credit_note.created`, `charge.refunded`, `charge.dispute.created` and
`.closed`) are kept in `StripeState.events` and, after the request that caused them is
answered, POSTed to each `WebhookEndpoint` with Stripe's `Stripe-Signature` header,
retried with backoff on failure.

Modules, one per resource: `wire` (ids, errors, parameter readers), `state`, `customers`,
`invoices`, `products`, `subscriptions`, `upcoming`, `credit_notes`, `charges`, `events` (and
webhook delivery), `test_clocks` and `app` (the HTTP layer and routes).
"""

from sandboxes.stripe.app import create_app
from sandboxes.stripe.charges import decide_dispute
from sandboxes.stripe.events import deliver_event, deliver_events, signature_header
from sandboxes.stripe.state import ManualClock, StripeState, WebhookAttempt, WebhookEndpoint
from sandboxes.stripe.subscriptions import prorate, shift
from sandboxes.stripe.wire import WEBHOOK_RETRY_DELAYS, StripeApiError, decode_form

__all__ = [
    "WEBHOOK_RETRY_DELAYS",
    "ManualClock",
    "StripeApiError",
    "StripeState",
    "WebhookAttempt",
    "WebhookEndpoint",
    "create_app",
    "decide_dispute",
    "decode_form",
    "deliver_event",
    "deliver_events",
    "prorate",
    "shift",
    "signature_header",
]
