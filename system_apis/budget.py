"""The ERP's limits as one budget per connection, shared by every worker and replica.

Before each request to an ERP the resilient client takes a slot: a place under the
connection's concurrency (a semaphore in this process, and the count shared by all
processes) and `cost` requests of its sliding window (a batch costs one, or as many as
it carries operations where the ERP counts those: `ErpLimits.request_cost`). The shared
state lives in a `BudgetStore` (Redis, or the database), keyed by connection, and each
acquire is one round trip to it.

The window is exact, not padded. The ERP counts a request when it arrives, which is
after its grant and before its answer; so a request counts in the window from its grant
until its answer came back, then for a full window after that (`Released.at_ms`, the
answer's time, re-stamps its entry). An ERP window holding two requests begins before
the earlier one's answer and ends after the later one's grant: so each grant saw every
other request of any ERP window it lands in (all were unanswered, or answered less
than a window before it), and never puts more than the limit into one, however late a
request reached the ERP or however slow its answer. A request whose process never
reported its answer counts until its lease ends, then a window more. What is left of a
margin (`CLOCK_MARGIN_SECONDS`) covers only the wall clocks of replicas on different
hosts disagreeing (one stamps the answer, another compares it with its own clock).

A slot's release rides the process's next acquire: the store frees the released slots and
re-stamps their window entries before it counts, in the same round trip, so steady traffic
costs one round trip per request. Released slots no acquire took along within
`RELEASE_DELAY_SECONDS` are freed on their own, in one round trip for all of them, so
other processes wait for them no longer than that; a process that dies holding them
leaves them to their lease.

Priorities: interactive work (a caller waits) may use the whole budget; bulk work
(posting batches) at most `1 - interactive_reserve` of the window and of the
concurrency; informational work (deliveries, probes, reports) at most
`1 - 2 × interactive_reserve`. So a month-start batch, however large, always leaves the
reserve to a live request, and bulk work leaves some to informational work's betters.

Adaptive, AIMD-style: a `429` halves the connection's scale (the share of the
configured window and concurrency in use) and pauses every caller until its
`Retry-After`; each success grows the scale back by `RECOVERY_STEP`, up to the
configured limits. The smaller share counts from the pause's end: it paces what follows,
and never holds every caller back until the requests granted before the `429` (at the
larger share) have left the window, when no success could grow it back. The configured
limit still counts over the whole window, so the vendor's published limit is never
exceeded by the gateway itself.
A caller that cannot get a slot before its deadline fails as a transient error
(`ErpBudgetExhausted`), so its run is queued, not lost.

Held slots (`ErpBudget.held`): an operation that makes a known sequence of requests one
after the other (a posting: the draft, its lines, the post and its read) takes ONE slot
of `cost` = their operations, at its first request, and holds it until it ends; its
requests draw on it instead of each taking a slot (one round trip for the sequence, not
one a request). It is as safe as a slot per request. The ERP counts each request when it
arrives, after the held slot's grant and before the sequence's last answer; the held
slot's `cost` entries count from that grant until the sequence ended (after its last
answer), then a full window, so every request of the sequence is covered, in whatever
window of the ERP it lands. Its concurrency place is held from before the first request
to after the last; a request draws only when no other is in flight on it, so at most one
is in flight per place. Its lease is one slot's (`lease_seconds`, a request's time budget
with its retries and a margin), so a process that dies holding it keeps the place no
longer than it would keep a request's: a request that might still be in flight when the
lease ends (this process's clock, read before the store's) does not draw. A posting's
requests follow each other within milliseconds and all draw; one sent late takes its own. A request
that does not draw (its cost is beyond what is left, another is in flight, the lease
would not cover it) takes its own slot as any other, after the held slot is given back
when nothing is in flight on it (so a concurrency of one never waits for its own place);
so does every request after a `429` inside the sequence, which shrinks and pauses the
budget as any `429` does, and gives the held slot back: a retry is another arrival at
the ERP, covered by what is left of the held cost, else by a fresh slot that waits for
the pause. A sequence that ends early leaves part of its cost unused: it counts a window
all the same, which is conservative (the ERP saw fewer requests than were counted).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import time
import uuid
from collections.abc import Awaitable, Sequence
from contextvars import ContextVar, Token
from typing import NamedTuple, Protocol

from core.settings import ErpLimits
from system_apis import metrics
from system_apis.errors import BackendTransientError
from system_apis.priority import FULL_SCALE, Priority

logger = logging.getLogger(__name__)

MIN_SCALE = 50
RECOVERY_STEP = 10
"""Thousandths regained per successful request: from half the limit to all in 50."""
DEFAULT_PAUSE_SECONDS = 1.0
"""The pause after a `429` that names no `Retry-After`."""
CLOCK_MARGIN_SECONDS = 0.05
"""How much longer than the window an answered request counts: the process that stamps
its answer and the one that grants the next request read their own wall clocks, which
NTP keeps within a few milliseconds of each other on hosts it serves. The lag between a
grant and the request's arrival at the ERP needs no margin: a request counts from its
grant until its answer, whatever the lag."""
CONCURRENCY_POLL_SECONDS = 0.05
"""How soon a caller looks again when another process holds every concurrent slot."""
RELEASE_DELAY_SECONDS = CONCURRENCY_POLL_SECONDS
"""How long released slots wait for an acquire to take their release along: at most one
poll of another process waiting for a concurrent slot."""


def _draw_token_prefix() -> None:
    global _token_prefix
    _token_prefix = f"{uuid.uuid4().hex[:24]}-"


_token_prefix = ""
_draw_token_prefix()
os.register_at_fork(after_in_child=_draw_token_prefix)  # a forked child draws its own
_token_numbers = itertools.count()


def new_token() -> str:
    """A slot's token, unique among every process's (in at most 40 characters): this
    process's random prefix and a count, without a UUID's dozen Python calls."""
    return f"{_token_prefix}{next(_token_numbers)}"


class Released(NamedTuple):
    """A finished request: its slot to free, and when its answer came back (`at_ms`), from
    which its `cost` window entries count a window more instead of from their grant (a
    named tuple: one is made per request, at half a dataclass's calls)."""

    token: str
    cost: int
    at_ms: int


class Acquire(NamedTuple):
    """One request for a slot, in the store's terms (milliseconds of its clock)."""

    token: str
    cost: int
    now_ms: int
    window_ms: int
    window_limit: int | None
    concurrency: int
    lease_ms: int
    share: int = FULL_SCALE
    """Thousandths of the (scaled) window and concurrency the request's priority may use."""
    released: tuple[Released, ...] = ()
    """This process's finished requests: freed and re-stamped first, in the same round trip."""


class Admission(NamedTuple):
    """The store's answer: granted, or how long until it may be (`wait_ms`)."""

    granted: bool
    wait_ms: int
    scale: int


class BudgetStore(Protocol):
    """Where a connection's window, in-flight requests, pause and scale are shared."""

    async def acquire(self, key: str, request: Acquire) -> Admission: ...

    async def release(self, key: str, released: Sequence[Released]) -> None:
        """Free the slots and re-stamp their window entries, as an acquire does first."""
        ...

    async def throttled(self, key: str, *, now_ms: int, pause_ms: int) -> int:
        """Halve the scale (not below `MIN_SCALE`) and pause until now + `pause_ms`."""
        ...

    async def recovered(self, key: str) -> int:
        """Grow the scale by `RECOVERY_STEP`, up to `FULL_SCALE`."""
        ...


def scaled(limit: int, scale: int, share: int = FULL_SCALE) -> int:
    """A configured limit at the given scale and a priority's share, never below one."""
    return max(1, math.floor(limit * scale * share / (FULL_SCALE * FULL_SCALE)))


def now_ms() -> int:
    """Wall-clock milliseconds: the one clock every process sharing a store can read."""
    return time.time_ns() // 1_000_000


def answered_ms() -> int:
    """Wall-clock milliseconds rounded up: an answer is never stamped before it came, so
    its request never leaves the window a millisecond before the ERP lets it go."""
    return -(-time.time_ns() // 1_000_000)


class BudgetStoreUnavailable(ConnectionError):
    """The store (Redis, the database) could not be reached or failed the statement."""


class ErpBudgetExhausted(BackendTransientError):
    slug = "erp-budget-exhausted"
    title = "The ERP connection's request budget had no room in time"


class ErpBudgetUnavailable(BackendTransientError):
    slug = "erp-budget-unavailable"
    title = "The ERP connection's shared request budget cannot be reached"


class BillingBudgetExhausted(ErpBudgetExhausted):
    slug = "billing-budget-exhausted"
    title = "Billing's request budget had no room in time"


class BillingBudgetUnavailable(ErpBudgetUnavailable):
    slug = "billing-budget-unavailable"
    title = "Billing's shared request budget cannot be reached"


class ErpBudget:
    """The budget of one ERP connection in this process, over its shared store."""

    exhausted: type[ErpBudgetExhausted] = ErpBudgetExhausted
    unavailable: type[ErpBudgetUnavailable] = ErpBudgetUnavailable

    def __init__(
        self,
        backend: str,
        limits: ErpLimits,
        store: BudgetStore,
        *,
        wait_seconds: float,
        lease_seconds: float,
        fail_open: bool = True,
        interactive_reserve: float = 0.0,
        release_delay_seconds: float = RELEASE_DELAY_SECONDS,
    ) -> None:
        self.backend = backend
        self.fail_open = fail_open
        self.limits = limits
        self.store = store
        self.wait_seconds = wait_seconds
        self.lease_seconds = lease_seconds
        # An answered request counts a window and the clocks' margin after its answer.
        self._window_ms = round((limits.window_seconds + CLOCK_MARGIN_SECONDS) * 1000)
        self._lease_ms = round(lease_seconds * 1000)
        self.interactive_reserve = interactive_reserve
        self._shares = {priority: priority.share(interactive_reserve) for priority in Priority}
        # One semaphore per priority, nested: a lower priority takes its own and every
        # higher one's, so waiting bulk work never holds the places kept for a live request.
        concurrency = limits.max_concurrent_requests
        local = {
            priority: asyncio.Semaphore(scaled(concurrency, FULL_SCALE, self.share(priority)))
            for priority in Priority
        }
        self._local = {  # what each priority takes, the lowest first: informational, bulk, ...
            priority: [
                local[level]
                for level in reversed(Priority)
                if self.share(level) >= self.share(priority)
            ]
            for priority in Priority
        }
        self.scale = FULL_SCALE
        self.release_delay_seconds = release_delay_seconds
        self._released: list[Released] = []
        self._released_at = 0.0
        """When the oldest of `_released` was released (`time.monotonic()`)."""
        self._release_timer: asyncio.TimerHandle | None = None
        self._releasing: set[asyncio.Task[None]] = set()
        metrics.set_budget_limit(backend, self.effective_limit)

    def share(self, priority: Priority) -> int:
        return self._shares[priority]

    def max_cost(self, priority: Priority) -> int | None:
        """The most operations one request of `priority` may carry and still fit the window
        at full scale (None: no window)."""
        limit = self.limits.requests_per_window
        return None if limit is None else scaled(limit, FULL_SCALE, self.share(priority))

    @property
    def effective_limit(self) -> int:
        """The window's limit at the current scale (the concurrency when there is no window)."""
        limit = self.limits.requests_per_window or self.limits.max_concurrent_requests
        return scaled(limit, self.scale)

    def slot(
        self,
        *,
        operation: str,
        cost: int = 1,
        priority: Priority = Priority.INTERACTIVE,
        deadline: float | None = None,
        ends_by: float | None = None,
    ) -> Slot | Draw:
        """Hold a slot for one request of `cost` operations; learn from how it ended.

        `deadline` (`time.monotonic()`) bounds the wait with `wait_seconds`. Within a
        `held` slot of this budget, a request that ends by `ends_by` draws on it instead.
        """
        held = _held.get()
        if held is not None and held.budget is self:
            if held.covers(cost, ends_by):
                return Draw(held, operation, cost, deadline)
            if not held.busy:  # nothing in flight on it: its place is this request's to take
                held.give_back()
        return Slot(self, operation, cost, priority, deadline)

    def held(self, *, cost: int, priority: Priority = Priority.INTERACTIVE) -> Held:
        """A slot of `cost` operations for a sequence of requests, taken at its
        first request and held until the scope ends; its requests draw on it (the module's
        docstring says why that is safe)."""
        return Held(self, cost, priority)

    @property
    def pending_releases(self) -> int:
        """Released slots the store still counts in flight."""
        return len(self._released)

    async def flush_releases(self) -> None:
        """Free the released slots no acquire has taken along yet, in one round trip (if it
        fails, they are left to their lease)."""
        released = self._take_released()
        if released:
            await self._afterwards(self.store.release(self.backend, released))

    async def aclose(self) -> None:
        """Free what this process released before it stops (waiting for a flush under way)."""
        await self.flush_releases()
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None
        if self._releasing:
            await asyncio.gather(*self._releasing)

    def _release_later(self, released: Released) -> None:
        """Leave the slot to ride the next acquire; free it alone if none comes in time.

        One timer at a time, never cancelled: an acquire that takes the releases along
        leaves it to find nothing, or only younger releases to look at again (a timer
        set and cancelled around every request crowded the event loop's timer heap).
        """
        if not self._released:
            self._released_at = time.monotonic()
        self._released.append(released)
        if self._release_timer is None:
            self._release_later_in(self.release_delay_seconds)

    def _release_later_in(self, seconds: float) -> None:
        self._release_timer = asyncio.get_running_loop().call_later(seconds, self._release_due)

    def _release_due(self) -> None:
        """Free the releases once the oldest has waited the delay (in the background)."""
        self._release_timer = None
        if not self._released:
            return
        left = self._released_at + self.release_delay_seconds - time.monotonic()
        if left > 0:
            self._release_later_in(left)
            return
        task = asyncio.get_running_loop().create_task(self.flush_releases())
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    def _take_released(self) -> tuple[Released, ...]:
        """The released slots, for the next round trip to take along."""
        released, self._released = tuple(self._released), []
        return released

    async def _afterwards(self, update: Awaitable[object]) -> None:
        """What follows a request (release, shrink, growth) never fails it: the request
        happened. A store that is down is logged; leases and the ERP's 429s cover for it."""
        try:
            await update
        except BudgetStoreUnavailable as error:
            logger.error("erp_budget.store_unavailable", extra={"error": repr(error)})

    async def _recovered(self) -> None:
        self._set_scale(await self.store.recovered(self.backend))

    async def _take_local(
        self, operation: str, until: float, priority: Priority
    ) -> Sequence[asyncio.Semaphore]:
        """This process's places for `priority`, the lowest first, for the caller to give
        back; none is kept when they cannot all be had by `until` or the wait is cancelled."""
        semaphores = self._local[priority]
        for semaphore in semaphores:  # a loop, not `any` over a generator: 3 calls a place
            if semaphore.locked():
                break
        else:  # every place free: each acquire returns at once, no timeout to arm
            for semaphore in semaphores:
                await semaphore.acquire()
            return semaphores
        held: list[asyncio.Semaphore] = []
        try:
            async with asyncio.timeout(max(0.0, until - time.monotonic())):
                for semaphore in semaphores:
                    await semaphore.acquire()
                    held.append(semaphore)
        except BaseException as exc:
            _give_back(held)
            if isinstance(exc, TimeoutError):
                raise self._exhausted(operation, wait=None) from exc
            raise
        return held

    async def _admit(
        self,
        token: str,
        cost: int,
        operation: str,
        until: float,
        priority: Priority,
        lease_ms: int,
    ) -> float:
        """Ask the store until it grants, or give up once the next try would be too late.
        Returns when (`time.monotonic()`) the granted ask was made: its lease counts from
        no earlier."""
        limits = self.limits
        while True:
            released = self._take_released()
            asked = time.monotonic()
            request = Acquire(
                token,
                cost,
                now_ms(),
                self._window_ms,
                limits.requests_per_window,
                limits.max_concurrent_requests,
                lease_ms,
                self._shares[priority],
                released,
            )
            try:
                admission = await self.store.acquire(self.backend, request)
            except BudgetStoreUnavailable as error:
                for earlier in released:  # still to free, by the next round trip
                    self._release_later(earlier)
                logger.error(
                    "erp_budget.store_unavailable",
                    extra={"error": repr(error), "fail_open": self.fail_open},
                )
                if self.fail_open:
                    return asked  # the local semaphores still cap this process; 429s teach
                raise self.unavailable(
                    f"{self.backend}: the shared request budget cannot be reached",
                    backend=self.backend,
                    operation=operation,
                ) from error
            self._set_scale(admission.scale)
            if admission.granted:
                return asked
            wait = admission.wait_ms / 1000 or CONCURRENCY_POLL_SECONDS
            if time.monotonic() + wait > until:
                raise self._exhausted(operation, wait=wait)
            await asyncio.sleep(wait)

    async def _learn(self, error: BaseException | None) -> bool:
        """What a request's end teaches: a success grows the scale back, a `429` shrinks it
        and pauses the connection. True after a `429`."""
        if error is None:
            if self.scale < FULL_SCALE:
                await self._afterwards(self._recovered())
        elif isinstance(error, BackendTransientError) and error.vendor_status == 429:
            await self._afterwards(self._throttled(error.retry_after))
            return True
        return False

    async def _throttled(self, retry_after: float | None) -> None:
        pause = DEFAULT_PAUSE_SECONDS if retry_after is None else retry_after
        metrics.count_budget_throttle(self.backend)
        scale = await self.store.throttled(
            self.backend, now_ms=now_ms(), pause_ms=round(pause * 1000)
        )
        self._set_scale(scale)

    def _set_scale(self, scale: int) -> None:
        if scale != self.scale:
            self.scale = scale
            metrics.set_budget_limit(self.backend, self.effective_limit)

    def _exhausted(self, operation: str, *, wait: float | None) -> ErpBudgetExhausted:
        metrics.count_budget_exhausted(self.backend)
        return self.exhausted(
            f"{self.backend}: no room in the request budget within "
            f"{self.wait_seconds}s for {operation}",
            backend=self.backend,
            operation=operation,
            retry_after=wait,
        )


class Slot:
    """`ErpBudget.slot`'s hold: taken on entry; on exit given back, and what the request's
    end teaches learnt (a class: `asynccontextmanager`'s generators cost about 20 Python
    calls a slot)."""

    __slots__ = (
        "budget",
        "cost",
        "deadline",
        "held",
        "lease_ms",
        "leased_from",
        "operation",
        "priority",
        "token",
    )

    def __init__(
        self,
        budget: ErpBudget,
        operation: str,
        cost: int,
        priority: Priority,
        deadline: float | None,
        lease_ms: int | None = None,
    ) -> None:
        self.budget = budget
        self.operation = operation
        self.cost = cost
        self.priority = priority
        self.deadline = deadline
        self.lease_ms = budget._lease_ms if lease_ms is None else lease_ms
        self.token = new_token()
        self.held: Sequence[asyncio.Semaphore] = ()
        self.leased_from = 0.0
        """When (`time.monotonic()`) its lease began, at the latest."""

    async def __aenter__(self) -> None:
        budget = self.budget
        started = time.monotonic()
        until = started + budget.wait_seconds
        if self.deadline is not None:
            until = min(until, self.deadline)
        self.held = await budget._take_local(self.operation, until, self.priority)
        try:
            self.leased_from = await budget._admit(
                self.token, self.cost, self.operation, until, self.priority, self.lease_ms
            )
        except BaseException:
            _give_back(self.held)
            raise
        metrics.observe_budget_wait(budget.backend, self.priority, time.monotonic() - started)
        metrics.budget_in_use(budget.backend).inc()

    async def __aexit__(
        self, _kind: type[BaseException] | None, error: BaseException | None, _trace: object
    ) -> None:
        try:
            await self.budget._learn(error)
        finally:
            self.give_back()

    def give_back(self) -> None:
        """Free the slot: its release rides the next acquire, its places are given back."""
        budget = self.budget
        try:
            metrics.budget_in_use(budget.backend).dec()
            budget._release_later(Released(self.token, self.cost, answered_ms()))
        finally:
            _give_back(self.held)


_held: ContextVar[Held | None] = ContextVar("erp_budget_held", default=None)
"""The held slot the requests of this task (and of the tasks it starts) may draw on."""


class Held:
    """`ErpBudget.held`'s scope: the slot its requests draw on, taken by the first of them
    (`Draw`), given back when the scope ends, or earlier when a request cannot draw."""

    def __init__(self, budget: ErpBudget, cost: int, priority: Priority) -> None:
        self.budget = budget
        self.cost = cost
        self.priority = priority
        self.lease_ms = budget._lease_ms
        self.left = cost
        self.slot: Slot | None = None
        self.busy = False
        """A request is in flight on the slot."""
        self.ended = False
        """The scope ended (a request it started may still be in flight)."""
        self.done = False
        """The slot was given back, or will never be taken."""
        self._outer: Token[Held | None] | None = None

    async def __aenter__(self) -> None:
        self._outer = _held.set(self)

    async def __aexit__(self, *_exc: object) -> None:
        if self._outer is not None:
            _held.reset(self._outer)
        self.ended = True
        if not self.busy:  # else the request in flight gives it back when it ends
            self.give_back()

    def covers(self, cost: int, ends_by: float | None) -> bool:
        """Whether a request of `cost` that ends by `ends_by` may draw on the slot: nothing
        in flight on it, enough cost left, and its lease (once taken) outlasting it."""
        if self.done or self.busy or cost > self.left:
            return False
        slot = self.slot
        if slot is None:  # the request takes the slot: its lease starts no earlier
            return True
        return ends_by is not None and ends_by <= slot.leased_from + slot.lease_ms / 1000

    def give_back(self) -> None:
        """End the scope's hold (once): requests after it take their own slots."""
        if self.done:
            return
        self.done = True
        if self.slot is not None:
            self.slot.give_back()


class Draw:
    """One request of a `Held` scope: the first takes the scope's slot; each learns from
    its end as a slot does, and a `429` gives the scope's slot back."""

    __slots__ = ("cost", "deadline", "held", "operation")

    def __init__(self, held: Held, operation: str, cost: int, deadline: float | None) -> None:
        self.held = held
        self.operation = operation
        self.cost = cost
        self.deadline = deadline

    async def __aenter__(self) -> None:
        held = self.held
        held.busy = True
        try:
            if held.slot is None:
                slot = Slot(
                    held.budget,
                    self.operation,
                    held.cost,
                    held.priority,
                    self.deadline,
                    held.lease_ms,
                )
                await slot.__aenter__()
                held.slot = slot
        except BaseException:
            held.busy = False
            raise
        held.left -= self.cost

    async def __aexit__(
        self, _kind: type[BaseException] | None, error: BaseException | None, _trace: object
    ) -> None:
        held = self.held
        try:
            if await held.budget._learn(error):
                held.give_back()
        finally:
            held.busy = False
            if held.ended:  # the scope ended while this request was in flight
                held.give_back()


def _give_back(semaphores: Sequence[asyncio.Semaphore]) -> None:
    for semaphore in semaphores:
        semaphore.release()


class BillingBudget(ErpBudget):
    """One of billing's two budgets (reads, writes): the same mechanism, answered with
    billing's own problem types."""

    exhausted = BillingBudgetExhausted
    unavailable = BillingBudgetUnavailable
