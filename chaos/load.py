"""The load a check drives: invoices registered, then posted with one Idempotency-Key each."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from tests.support.invoices import invoice_body

ACCEPTED = frozenset({200, 201, 202})
PROBLEM_MEDIA_TYPE = "application/problem+json"
TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Answer:
    """What the client saw for one request; `status` 0 is no answer (a transport error)."""

    invoice_id: str
    status: int
    problem: str | None = None
    retry_after: str | None = None
    seconds: float = 0.0

    @property
    def accepted(self) -> bool:
        return self.status in ACCEPTED

    @property
    def label(self) -> str:
        if self.status == 0:
            return "no answer"
        slug = self.problem.rsplit("/", 1)[-1] if self.problem else ""
        return f"{self.status} {slug}".strip()


def client(base: str, headers: dict[str, str], *, connections: int = 100) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base,
        headers=headers,
        timeout=TIMEOUT_SECONDS,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


async def register_invoices(
    http: httpx.AsyncClient, count: int, *, concurrency: int = 20
) -> list[str]:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> str:
        async with gate:
            response = await http.post("/v1/invoices", json=invoice_body())
            response.raise_for_status()
            invoice_id: str = response.json()["id"]
            return invoice_id

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def post(http: httpx.AsyncClient, invoice_id: str, *, key_prefix: str) -> Answer:
    started = time.perf_counter()
    try:
        response = await http.post(
            f"/v1/invoices/{invoice_id}/postings",
            json={},
            headers={"Idempotency-Key": f"{key_prefix}-{invoice_id}"},
        )
    except httpx.TransportError:
        return Answer(invoice_id, 0, seconds=time.perf_counter() - started)
    problem = None
    if response.headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE):
        problem = response.json().get("type")
    return Answer(
        invoice_id,
        response.status_code,
        problem=problem,
        retry_after=response.headers.get("retry-after"),
        seconds=time.perf_counter() - started,
    )


async def burst(
    http: httpx.AsyncClient,
    invoice_ids: list[str],
    *,
    key_prefix: str,
    concurrency: int,
    on_answer: Callable[[Answer, int], Awaitable[None]] | None = None,
) -> list[Answer]:
    """Post every invoice, `concurrency` at a time; `on_answer(answer, answers so far)`."""
    gate = asyncio.Semaphore(concurrency)
    answers: list[Answer] = []

    async def one(invoice_id: str) -> None:
        async with gate:
            answer = await post(http, invoice_id, key_prefix=key_prefix)
        answers.append(answer)
        if on_answer is not None:
            await on_answer(answer, len(answers))

    await asyncio.gather(*(one(invoice_id) for invoice_id in invoice_ids))
    return answers


def tally(answers: list[Answer]) -> str:
    """`201: 640, 202: 360` — what the answers were, most frequent first."""
    counts = Counter(answer.label for answer in answers)
    return ", ".join(f"{label}: {n}" for label, n in counts.most_common())
