"""Runs' new documents sent to the ERP in bulk calls as the runs hand them in.

Bulk work executes many runs side by side; when a run reaches its `create_document` step
(persisted first, as every step) it hands its document here and waits for its own
outcome. The documents of one ERP company go out as many as one request carries best
(`per_request`) as soon as that many wait, each call on its own, side by side with the
others (the ERP's budget paces them): runs still at their steps overlap the requests of
those handed in, and the ERP's window never waits for a whole group of runs to be ready.
Fewer go out once no call is in flight and no run the stream expects (`expect`) is
still on its way to a document (every run expected either hands one in or stands aside,
`done`): a short group in the middle of a stream would take a piece of the ERP's window
that a full request then misses, while a call in flight frees runs to fill the group.

At most `SENDING` calls of a company wait on the ERP's budget at once, the others in
line here, in order: the budget admits its waiters in no order and fails one that waits
past its deadline (its runs would be queued for a retry), and a window of the bulk share
holds two requests of the size `per_request` chooses, so two never wait a window long.

The runs work with the database at most `places` at a time (a semaphore the caller
shares), so many runs never ask for more connections than the pool holds; a run waiting
for the ERP holds no place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from system_apis.erp.schemas import ErpSalesInvoice, ErpSalesInvoiceCreate
from system_apis.errors import BackendError

Send = Callable[
    [str, Sequence[ErpSalesInvoiceCreate]], Awaitable[list[ErpSalesInvoice | BackendError]]
]
"""Creates and posts a company's documents: one outcome each, in order."""
PerRequest = Callable[[str], Awaitable[int]]
"""How many of a company's documents one call carries best."""
SENDING = 2

Waiting = list[tuple[ErpSalesInvoiceCreate, "asyncio.Future[object]"]]


class DocumentStream:
    def __init__(self, send: Send, per_request: PerRequest, *, places: asyncio.Semaphore) -> None:
        self._send = send
        self._per_request = per_request
        self._places = places
        self._holding: set[str] = set()
        self._on_their_way: set[str] = set()
        self._sizes: dict[str, int] = {}
        self._sending: dict[str, asyncio.Semaphore] = {}
        self._waiting: dict[str, Waiting] = {}
        self._calls: set[asyncio.Task[None]] = set()
        self._in_flight = 0

    def expect(self, run_id: str) -> None:
        """The run may hand a document in: short groups wait for it."""
        self._on_their_way.add(run_id)

    async def enter(self, run_id: str) -> None:
        """Wait for one of the `places` before the run works with the database."""
        await self._places.acquire()
        self._holding.add(run_id)

    async def submit(
        self, run_id: str, company_id: str, document: ErpSalesInvoiceCreate
    ) -> ErpSalesInvoice:
        """The run's document, created and posted in a bulk call; or its error. The run
        gives its place up while it waits, and takes one again for what follows."""
        self._leave(run_id)
        if company_id not in self._sizes:
            self._sizes[company_id] = max(1, await self._per_request(company_id))
            self._sending[company_id] = asyncio.Semaphore(SENDING)
        answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(company_id, []).append((document, answer))
        self._on_their_way.discard(run_id)
        self._ready()
        outcome = await answer
        await self.enter(run_id)
        if isinstance(outcome, BaseException):
            raise outcome
        assert isinstance(outcome, ErpSalesInvoice)
        return outcome

    def done(self, run_id: str) -> None:
        """The run hands no document in now: it has finished (with or without one), or
        waits for another run first (and is expected again afterwards)."""
        self._leave(run_id)
        if run_id in self._on_their_way:
            self._on_their_way.discard(run_id)
            self._ready()

    def _leave(self, run_id: str) -> None:
        if run_id in self._holding:
            self._holding.discard(run_id)
            self._places.release()

    def _ready(self) -> None:
        """Send every full group, and the rest once nothing else can fill it."""
        for company_id, waiting in self._waiting.items():
            size = self._sizes[company_id]
            while len(waiting) >= size or (
                waiting and not self._on_their_way and not self._in_flight
            ):
                group = waiting[:size]
                del waiting[:size]
                self._in_flight += 1
                call = asyncio.create_task(self._send_group(company_id, group))
                self._calls.add(call)
                call.add_done_callback(self._calls.discard)

    async def _send_group(self, company_id: str, group: Waiting) -> None:
        try:
            documents = [document for document, _ in group]
            async with self._sending[company_id]:
                outcomes: Sequence[object] = await self._send(company_id, documents)
        except Exception as error:  # the call itself broke: every document shares its fate
            outcomes = [error] * len(group)
        for (_, answer), outcome in zip(group, outcomes, strict=True):
            if not answer.done():  # its run was cancelled while it waited (a shutdown)
                answer.set_result(outcome)
        self._in_flight -= 1
        self._ready()
