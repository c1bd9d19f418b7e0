"""Test clocks (`/v1/test_helpers/test_clocks`): the sandbox's time moves when told.

As Stripe's Test Clocks: a clock is created frozen at `frozen_time`, and advancing it
(`POST .../{id}/advance`, forward only) runs what happened meanwhile before it answers:
every subscription is billed for the periods it passed (renewal invoices with their
usage in arrears), and the events of that go to the webhook endpoints. Stripe attaches
a clock to the customers created with `test_clock`; the sandbox holds one account, so it
holds at most one clock, and while it exists the whole account follows it. Test keys
only, as Stripe: the sandbox takes no other.
"""

from __future__ import annotations

from sandboxes.stripe.state import ManualClock, StripeState
from sandboxes.stripe.subscriptions import advance_subscriptions
from sandboxes.stripe.wire import Call, JsonObject, StripeApiError, new_object_id, unix_now

DELETES_AFTER_SECONDS = 30 * 24 * 3600  # Stripe deletes a test clock 30 days after it is made


def _clock(state: StripeState, clock_id: str) -> JsonObject:
    if state.test_clock is None or state.test_clock["id"] != clock_id:
        raise StripeApiError(
            404, f"No such test clock: '{clock_id}'", code="resource_missing", param="test_clock"
        )
    return state.test_clock


def _frozen_time(call: Call) -> int:
    frozen_time = call.integer("frozen_time", minimum=0)
    if frozen_time is None:
        raise StripeApiError(
            400,
            "Missing required param: frozen_time.",
            code="parameter_missing",
            param="frozen_time",
        )
    return frozen_time


def create_test_clock(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"frozen_time", "name"}))
    frozen_time = _frozen_time(call)
    if state.test_clock is not None:
        raise StripeApiError(
            400,
            f"The sandbox account already follows test clock '{state.test_clock['id']}'.",
            param="frozen_time",
        )
    created = unix_now()
    state.test_clock = {
        "id": new_object_id("clock"),
        "object": "test_helpers.test_clock",
        "created": created,
        "deletes_after": created + DELETES_AFTER_SECONDS,
        "frozen_time": frozen_time,
        "livemode": False,
        "name": call.string("name"),
        "status": "ready",
    }
    state.clock = ManualClock(frozen_time)
    return dict(state.test_clock)


def retrieve_test_clock(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset())
    return dict(_clock(state, call.path["test_clock"]))


def advance_test_clock(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"frozen_time"}))
    clock = _clock(state, call.path["test_clock"])
    frozen_time = _frozen_time(call)
    if frozen_time <= clock["frozen_time"]:
        raise StripeApiError(
            400,
            "The frozen_time must be after the test clock's current frozen_time "
            f"({clock['frozen_time']}).",
            param="frozen_time",
        )
    assert isinstance(state.clock, ManualClock)
    state.clock.now = clock["frozen_time"] = frozen_time
    advance_subscriptions(state)  # renewals happen before the answer, as Stripe's do
    return dict(clock)
