"""Backend failures, classified so callers know whether to retry, fix or escalate."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from core.errors import ErrorClass, LedgergateError


class BackendError(LedgergateError):
    """A backend call that did not succeed. `error_class` drives retry and queueing."""

    error_class: ClassVar[ErrorClass]

    def __init__(
        self,
        detail: str,
        *,
        backend: str,
        operation: str,
        vendor_status: int | None = None,
        vendor_code: str | None = None,
        retry_after: float | None = None,
        vendor_message: str | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail, backend=backend, operation=operation, **extensions)
        self.backend = backend
        self.operation = operation
        self.vendor_status = vendor_status
        self.vendor_code = vendor_code
        self.retry_after = retry_after
        self.vendor_message = vendor_message

    def __str__(self) -> str:
        """Our detail and the vendor's own words: what a run records. A response carries
        only `detail`, since vendor text may say more than a caller should read."""
        return f"{self.detail}: {self.vendor_message}" if self.vendor_message else self.detail


DEFAULT_RETRY_AFTER_SECONDS = 5


class BackendTransientError(BackendError):
    """Connection failures, timeouts, 429 and 5xx: worth retrying later.

    Answered with `Retry-After`: the backend's own (or the circuit's pause), rounded up,
    else `DEFAULT_RETRY_AFTER_SECONDS`.
    """

    error_class = ErrorClass.TRANSIENT
    status_code = 503
    slug = "backend-unavailable"
    title = "A backend is temporarily unavailable"

    def __init__(self, detail: str, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        wait = DEFAULT_RETRY_AFTER_SECONDS if self.retry_after is None else self.retry_after
        self.headers["Retry-After"] = str(max(1, math.ceil(wait)))


class BackendTimeout(BackendTransientError):
    status_code = 504
    slug = "backend-timeout"
    title = "A backend did not answer in time"


class BackendBusinessError(BackendError):
    """The backend understood the request and refused it on its own rules."""

    error_class = ErrorClass.BUSINESS
    status_code = 422
    slug = "backend-rejected"
    title = "A backend rejected the request"


class BackendNotFound(BackendBusinessError):
    slug = "backend-not-found"
    title = "A backend does not know the referenced object"


class BackendAuthError(BackendError):
    """Our credentials were refused: configuration to fix, not the caller's fault."""

    error_class = ErrorClass.AUTH
    status_code = 502
    slug = "backend-auth-failed"
    title = "A backend refused the gateway's credentials"


class BackendContractError(BackendError):
    """The backend answered with something its contract does not allow."""

    error_class = ErrorClass.CONTRACT
    status_code = 502
    slug = "backend-contract-violation"
    title = "A backend answered outside its contract"
