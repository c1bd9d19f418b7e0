"""Registration retry storm: every invoice registration sent 2 to 5 times at once, under
ERP faults, then posted the same way.

A client that does not hear back retries with the same `Idempotency-Key`; here each of
the registrations goes out as 2 to 5 concurrent copies with one key and one body
(a copy answered `409 idempotency-request-in-flight`, `503` or nothing is retried, as a
client would), while the ERP fails 30 % of its requests as in the fault storm. Every
invoice a registration answered is then posted by 2 to 5 concurrent copies with one key.
After the replay worker drains the queue: each registration made exactly one invoice,
every copy was answered that invoice, and each invoice is one posted ERP document.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import func, select

from chaos.estate import Estate, estate
from chaos.ledger import count
from chaos.load import Answer, client, post, tally
from chaos.report import Outcome
from chaos.storm import ERP_SETTINGS, STORM
from core.models.invoice import InvoiceRow
from sandboxes.faults import FaultConfig
from tests.support.invoices import invoice_body

CHECK = "registration retry storm"
COPIES = (2, 5)
CONCURRENCY = 40
RETRIES = 20
RETRYABLE = frozenset({0, 409, 429, 503})


async def _register(
    http: httpx.AsyncClient, key: str, body: dict[str, object], gate: asyncio.Semaphore
) -> tuple[int, str | None]:
    """One copy of a registration, retried as a client would; (last status, invoice id)."""
    status = 0
    for attempt in range(RETRIES):
        async with gate:
            try:
                response = await http.post(
                    "/v1/invoices", json=body, headers={"Idempotency-Key": key}
                )
                status = response.status_code
            except httpx.TransportError:
                status = 0
        if status in (200, 201):
            invoice_id: str = response.json()["id"]
            return status, invoice_id
        if status not in RETRYABLE:
            return status, None
        await asyncio.sleep(0.05 * (attempt + 1))
    return status, None


async def _post(http: httpx.AsyncClient, invoice_id: str, gate: asyncio.Semaphore) -> Answer:
    """One copy of a posting, retried while the first copy with its key is in flight."""
    answer = Answer(invoice_id, 0)
    for attempt in range(RETRIES):
        async with gate:
            answer = await post(http, invoice_id, key_prefix="retry-storm")
        if answer.status not in RETRYABLE:
            return answer
        await asyncio.sleep(0.05 * (attempt + 1))
    return answer


def run(registrations: int, logs: Path) -> Outcome:
    with estate("registration", logs, **ERP_SETTINGS) as place:
        return asyncio.run(_storm(place, registrations))


async def _storm(place: Estate, registrations: int) -> Outcome:
    chance = random.Random(2026)
    base = place.start_gateway()
    async with place.session() as session:
        before = int(await session.scalar(select(func.count()).select_from(InvoiceRow)) or 0)
    place.erp.set_faults(STORM)
    gate = asyncio.Semaphore(CONCURRENCY)
    copies = [chance.randint(*COPIES) for _ in range(registrations)]
    started = time.monotonic()
    async with client(base, place.headers()) as http:
        body = invoice_body()
        answered = await asyncio.gather(
            *(
                asyncio.gather(*(_register(http, f"reg-{n}", body, gate) for _ in range(k)))
                for n, k in enumerate(copies)
            )
        )
        ids_per_registration = [{i for _, i in copies_ if i} for copies_ in answered]
        invoice_ids = sorted({i for ids in ids_per_registration for i in ids})
        posted = await asyncio.gather(
            *(
                asyncio.gather(
                    *(_post(http, invoice_id, gate) for _ in range(chance.randint(*COPIES)))
                )
                for invoice_id in invoice_ids
            )
        )
    storm_seconds = time.monotonic() - started
    report = place.erp.faults()
    place.erp.set_faults(FaultConfig())
    await place.drain()
    answers = [a for copies_ in posted for a in copies_]
    accepted = {a.invoice_id for a in answers if a.accepted}
    ledger = await count(place, invoice_ids, accepted)
    async with place.session() as session:
        after = int(await session.scalar(select(func.count()).select_from(InvoiceRow)) or 0)
    registered = Counter(status for copies_ in answered for status, _ in copies_)
    unanswered = [n for n, ids in enumerate(ids_per_registration) if not ids]
    split = [n for n, ids in enumerate(ids_per_registration) if len(ids) > 1]
    extra_invoices = after - before - registrations
    injected = report["injected"]
    assert isinstance(injected, dict)
    summary = (
        f"{registrations} registrations sent {sum(copies)} times "
        f"({', '.join(f'{s}: {n}' for s, n in registered.most_common())}): "
        f"{after - before} invoices, {len(split)} answered with two; postings sent "
        f"{len(answers)} times ({tally(answers)}); {ledger.summary()}; "
        f"ERP faults injected {sum(injected.values())} of {report['requests']} requests "
        f"in {storm_seconds:.0f} s; queue drained in {place.rounds}"
    )
    details = ledger.problems()
    if unanswered:
        details.append(f"registrations never answered an invoice: {unanswered[:5]}")
    if split or extra_invoices:
        details.append(f"duplicate invoices: {extra_invoices} extra, split keys {split[:5]}")
    passed = ledger.clean and not (unanswered or split or extra_invoices)
    passed = passed and len(accepted) == len(invoice_ids)
    return Outcome(CHECK, passed, summary, details)
