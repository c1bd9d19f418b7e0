"""What every port fake shares: the calls it answered, and the failures it is told to raise.

A test arms a failure for one operation (`fail("post_sales_invoice", "transient")`): the
next call of that operation raises the backend error of that class, as the resilient
client classifies a vendor's answer (`system_apis.errors`), before any state changes.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

from system_apis.errors import (
    BackendAuthError,
    BackendBusinessError,
    BackendContractError,
    BackendError,
    BackendNotFound,
    BackendTimeout,
    BackendTransientError,
)

FailureKind = Literal[
    "transient", "timeout", "contract", "not_found", "conflict", "business", "auth"
]

# Each kind as the resilient client classifies a vendor's answer: the error, and the
# HTTP status it comes from (none for a timeout).
FAILURES: dict[FailureKind, tuple[type[BackendError], int | None]] = {
    "transient": (BackendTransientError, 503),
    "timeout": (BackendTimeout, None),
    "contract": (BackendContractError, None),
    "not_found": (BackendNotFound, 404),
    "conflict": (BackendBusinessError, 409),
    "business": (BackendBusinessError, 422),
    "auth": (BackendAuthError, 401),
}


@dataclass(frozen=True)
class Call:
    operation: str
    arguments: dict[str, Any]


@dataclass
class Recorder:
    """The calls a fake answered, in order, and the failures armed per operation.

    `port` is the Protocol the fake implements: only its operations can be armed, so a
    misspelt operation fails the test instead of never firing.
    """

    backend: str
    port: type
    calls: list[Call] = field(default_factory=list)
    _armed: defaultdict[str, deque[BackendError | None]] = field(
        default_factory=lambda: defaultdict(deque)
    )

    def fail(
        self,
        operation: str,
        kind: FailureKind,
        *,
        times: int = 1,
        after: int = 0,
        detail: str | None = None,
        vendor_code: str | None = None,
    ) -> None:
        """Raise `kind` on the next `times` calls of the operation, after `after` good ones."""
        if operation.startswith("_") or not hasattr(self.port, operation):
            raise ValueError(f"{self.port.__name__} has no operation {operation!r}")
        queue = self._armed[operation]
        queue.extend([None] * after)
        error, status = FAILURES[kind]
        for _ in range(times):
            queue.append(
                error(
                    detail or f"{self.backend} {operation} failed: {kind}",
                    backend=self.backend,
                    operation=operation,
                    vendor_status=status,
                    vendor_code=vendor_code,
                )
            )

    def enter(self, operation: str, **arguments: Any) -> None:
        """Record a call; raise the failure armed for it, if any."""
        self.calls.append(Call(operation, arguments))
        queue = self._armed.get(operation)
        if queue:
            error = queue.popleft()
            if error is not None:
                raise error

    def count(self, operation: str) -> int:
        return sum(1 for call in self.calls if call.operation == operation)

    def operations(self) -> list[str]:
        return [call.operation for call in self.calls]

    def refuse(self, operation: str, detail: str, *, vendor_code: str | None = None) -> NoReturn:
        """Raise the backend's own business refusal (the fake's rules, not an armed fault)."""
        raise BackendBusinessError(
            detail, backend=self.backend, operation=operation, vendor_code=vendor_code
        )

    def not_found(self, operation: str, detail: str) -> NoReturn:
        raise BackendNotFound(detail, backend=self.backend, operation=operation)
