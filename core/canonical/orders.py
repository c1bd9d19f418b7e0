"""Sales orders: an accepted quote on its way to the ERP and into service."""

from __future__ import annotations

from enum import StrEnum

from core.status import StatusMachine


class SalesOrderStatus(StrEnum):
    """The normalized order status.

    `pending` (accepted, the run is checking credit and creating the ERP order), `held`
    (the ERP's credit check failed and the policy holds it for finance), `rejected`
    (refused on credit; the same quote placed again tries again), `open` (the ERP holds the
    order), `released` (the ERP released it for fulfilment), `in_service` (its service
    started: its subscriptions are ordered), `completed` (the ERP shipped and invoiced
    it), `canceled` (canceled or closed in the ERP before its service started).
    """

    PENDING = "pending"
    HELD = "held"
    REJECTED = "rejected"
    OPEN = "open"
    RELEASED = "released"
    IN_SERVICE = "in_service"
    COMPLETED = "completed"
    CANCELED = "canceled"


_S = SalesOrderStatus
SALES_ORDER_STATUS = StatusMachine(
    "sales order",
    {
        _S.PENDING: frozenset({_S.HELD, _S.REJECTED, _S.OPEN, _S.RELEASED, _S.COMPLETED}),
        _S.HELD: frozenset({_S.PENDING, _S.REJECTED}),
        _S.REJECTED: frozenset({_S.PENDING}),
        _S.OPEN: frozenset({_S.RELEASED, _S.IN_SERVICE, _S.COMPLETED, _S.CANCELED}),
        _S.RELEASED: frozenset({_S.OPEN, _S.IN_SERVICE, _S.COMPLETED, _S.CANCELED}),
        _S.IN_SERVICE: frozenset({_S.COMPLETED}),
    },
)
# The statuses the worker keeps in sync with the ERP.
SYNCED = frozenset({_S.OPEN, _S.RELEASED, _S.IN_SERVICE})
