import pytest

from core.canonical.documents import INVOICE_STATUS, InvoiceStatus
from core.canonical.subscriptions import SUBSCRIPTION_STATUS, SubscriptionStatus
from core.errors import InvalidTransition


def test_allowed_transitions_pass() -> None:
    assert INVOICE_STATUS.check(InvoiceStatus.OPEN, InvoiceStatus.POSTING) == InvoiceStatus.POSTING
    assert INVOICE_STATUS.can(InvoiceStatus.POSTING, InvoiceStatus.POSTED)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (InvoiceStatus.POSTED, InvoiceStatus.OPEN),
        (InvoiceStatus.VOID, InvoiceStatus.POSTING),
        (InvoiceStatus.OPEN, InvoiceStatus.PAID),
    ],
)
def test_forbidden_transitions_raise_a_409_problem(
    current: InvoiceStatus, new: InvoiceStatus
) -> None:
    with pytest.raises(InvalidTransition) as raised:
        INVOICE_STATUS.check(current, new)
    assert raised.value.status_code == 409
    assert raised.value.extensions == {
        "current_status": current.value,
        "requested_status": new.value,
    }


def test_a_canceled_subscription_is_final() -> None:
    assert not any(
        SUBSCRIPTION_STATUS.can(SubscriptionStatus.CANCELED, s) for s in SubscriptionStatus
    )


def test_the_sources_of_a_status_are_those_it_may_be_reached_from() -> None:
    assert INVOICE_STATUS.sources(InvoiceStatus.POSTED) == {
        InvoiceStatus.POSTING,
        InvoiceStatus.POSTING_MISMATCH,
        InvoiceStatus.PAID,
    }
    assert INVOICE_STATUS.sources(InvoiceStatus.POSTING_MISMATCH) == {InvoiceStatus.POSTING}
