"""A circuit breaker per backend: stop calling a backend that keeps failing, then probe it.

Closed: calls go through; `failure_threshold` consecutive transient failures open the
circuit. Open: calls are refused at once with `BackendCircuitOpen` (a transient
error, so callers queue the work as they would for a timeout) without touching the
network, until `reset_seconds` have passed. Half-open: exactly one call goes through
as a probe while the others are still refused; its success closes the circuit, its
transient failure opens it for another `reset_seconds`.

Only transient failures count. A backend that refuses a request on its own rules
(business, auth, contract) has answered, so it is up. Outcomes of calls admitted
before the circuit opened are ignored once it is open: only the probe decides.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum
from types import TracebackType

from system_apis import metrics
from system_apis.errors import BackendError, BackendTransientError

logger = logging.getLogger(__name__)


class CircuitState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


GAUGE_VALUES = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}


class BackendCircuitOpen(BackendTransientError):
    """Refused by our own circuit breaker: the backend failed too often just now."""

    slug = "backend-circuit-open"
    title = "A backend is failing; calls to it are paused"


class CircuitBreaker:
    """The breaker of one backend. Not thread-safe: one event loop owns it."""

    def __init__(
        self,
        backend: str,
        *,
        failure_threshold: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._closed_call = _Call(self, probe=False)
        """A call admitted while closed: what it learns depends on nothing else."""
        metrics.set_circuit_state(backend, GAUGE_VALUES[self._state])

    @property
    def state(self) -> CircuitState:
        """The current state; an open circuit whose pause is over reads half-open."""
        if (
            self._state is CircuitState.OPEN
            and self._clock() - self._opened_at >= self.reset_seconds
        ):
            self._move(CircuitState.HALF_OPEN)
        return self._state

    def call(self, operation: str) -> _Call:
        """Admit one call (or raise `BackendCircuitOpen`); the `with` block it guards is
        learnt from by how it ends."""
        if self._state is CircuitState.CLOSED:
            return self._closed_call
        return _Call(self, probe=self._admit(operation))

    def check(self, operation: str) -> None:
        """Refuse at once while the circuit is open (admits nothing, claims no probe)."""
        if self._state is not CircuitState.CLOSED and self.state is CircuitState.OPEN:
            raise self._refusal(operation)

    def _admit(self, operation: str) -> bool:
        """True when the admitted call is the half-open probe."""
        state = self.state
        if state is CircuitState.CLOSED:
            return False
        if state is CircuitState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        raise self._refusal(operation)

    def _refusal(self, operation: str) -> BackendCircuitOpen:
        remaining = max(0.0, self.reset_seconds - (self._clock() - self._opened_at))
        return BackendCircuitOpen(
            f"{self.backend} failed {self.failure_threshold} times in a row; "
            f"calls are paused (next probe in {remaining:.1f}s)",
            backend=self.backend,
            operation=operation,
            retry_after=remaining,
        )

    def _on_success(self, probe: bool) -> None:
        if probe:
            self._probing = False
            self._failures = 0
            self._move(CircuitState.CLOSED)
        elif self._state is CircuitState.CLOSED:
            self._failures = 0

    def _on_failure(self, probe: bool) -> None:
        if probe:
            self._probing = False
            self._open()
        elif self._state is CircuitState.CLOSED:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._open()

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._move(CircuitState.OPEN)

    def _move(self, state: CircuitState) -> None:
        previous, self._state = self._state, state
        metrics.set_circuit_state(self.backend, GAUGE_VALUES[state])
        log = logger.warning if state is CircuitState.OPEN else logger.info
        log(
            f"backend.circuit.{state.value}",
            extra={"backend": self.backend, "previous": previous.value, "failures": self._failures},
        )


class _Call:
    """One admitted call, as a context manager: a class's `__enter__` and `__exit__`, not a
    generator's (`contextlib` cost six calls more a request)."""

    __slots__ = ("breaker", "probe")

    def __init__(self, breaker: CircuitBreaker, *, probe: bool) -> None:
        self.breaker = breaker
        self.probe = probe
        """The half-open probe: its outcome closes or opens the circuit."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        _error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        breaker, probe = self.breaker, self.probe
        if kind is None:
            breaker._on_success(probe)
        elif issubclass(kind, BackendTransientError):
            breaker._on_failure(probe)
        elif issubclass(kind, BackendError):
            breaker._on_success(probe)
        elif probe:
            # Cancelled or broken before the backend answered: nothing learnt, but a
            # probe must give its place back or the circuit would stay half-open.
            breaker._probing = False
