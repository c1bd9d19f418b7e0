"""Many runs' new documents gathered into one bulk call to the ERP.

Each run of a chunk executes its own steps concurrently; when it reaches its
`create_document` step (persisted first, as every step) it hands its document here and
waits. Once every run of the chunk has handed its document in, or left without one (a
refusal, a retry that takes the one-by-one path), the documents go to the ERP in one
`post_new_sales_invoices` call, and each run gets its own outcome back. The runs work
with the database at most `places` at a time (starting their steps, recording their
outcomes), so a chunk never asks for more connections at once than the pool holds; a
run waiting for the ERP holds no place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence

from system_apis.erp.schemas import ErpSalesInvoice, ErpSalesInvoiceCreate
from system_apis.errors import BackendError

Send = Callable[[Sequence[ErpSalesInvoiceCreate]], Awaitable[list[ErpSalesInvoice | BackendError]]]


class DocumentBatch:
    def __init__(self, send: Send, run_ids: Iterable[str], *, places: int) -> None:
        self._send = send
        self._places = asyncio.Semaphore(places)
        self._holding: set[str] = set()
        self._expected = set(run_ids)
        self._documents: dict[str, tuple[ErpSalesInvoiceCreate, asyncio.Future[object]]] = {}
        self._flush: asyncio.Task[None] | None = None

    async def enter(self, run_id: str) -> None:
        """Wait for one of the `places` before the run's steps start."""
        await self._places.acquire()
        self._holding.add(run_id)

    async def submit(self, run_id: str, document: ErpSalesInvoiceCreate) -> ErpSalesInvoice:
        """The run's document, created and posted in the chunk's bulk call; or its error.
        The run gives its place up while it waits, and takes one again for what follows."""
        self._leave(run_id)
        answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._documents[run_id] = (document, answer)
        self._ready()
        outcome = await answer
        await self.enter(run_id)
        if isinstance(outcome, BaseException):
            raise outcome
        assert isinstance(outcome, ErpSalesInvoice)
        return outcome

    def done(self, run_id: str) -> None:
        """The run has finished: one that never handed a document in is not waited for."""
        self._leave(run_id)
        if run_id not in self._documents:
            self._expected.discard(run_id)
            self._ready()

    def _leave(self, run_id: str) -> None:
        if run_id in self._holding:
            self._holding.discard(run_id)
            self._places.release()

    def _ready(self) -> None:
        if self._flush is None and self._documents and self._expected <= self._documents.keys():
            self._flush = asyncio.create_task(self._send_all())

    async def _send_all(self) -> None:
        waiting = list(self._documents.values())
        try:
            outcomes: Sequence[object] = await self._send([document for document, _ in waiting])
        except Exception as error:  # the call itself broke: every document shares its fate
            outcomes = [error] * len(waiting)
        for (_, answer), outcome in zip(waiting, outcomes, strict=True):
            answer.set_result(outcome)
