"""Fault storm: the ERP fails 30 % of its requests while a burst of postings runs.

The ERP sandbox answers 10 % of requests with a 5xx, 7 % with a 429, holds the answer
of 7 % past the gateway's read timeout (the write happened, the answer is lost) and
cuts the connection of 6 % after handling them. Every posting must be answered 201
(posted) or 202 (queued); the replay worker then drains the queue once the storm is
over, and the ledger count follows.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from chaos.estate import Estate, estate
from chaos.ledger import count
from chaos.load import burst, client, register_invoices, tally
from chaos.report import Outcome
from sandboxes.faults import FaultConfig

CHECK = "fault storm"
CONCURRENCY = 40
STORM = FaultConfig(
    seed=2026,
    error_rate=0.10,
    throttle_rate=0.07,
    retry_after_seconds=1,
    timeout_rate=0.07,
    timeout_seconds=3.0,
    drop_rate=0.06,
)
# A client that gives up on a held answer after 1 s and retries quickly, and a circuit
# that opens only when the ERP is down rather than merely stormy.
ERP_SETTINGS = {
    "LEDGERGATE_ERP__READ_TIMEOUT_SECONDS": "1",
    "LEDGERGATE_ERP__RETRY_INITIAL_BACKOFF_SECONDS": "0.05",
    "LEDGERGATE_ERP__RETRY_MAX_BACKOFF_SECONDS": "0.2",
    "LEDGERGATE_ERP__RETRY_BUDGET_SECONDS": "3",
    "LEDGERGATE_ERP__CIRCUIT_FAILURE_THRESHOLD": "20",
    "LEDGERGATE_ERP__CIRCUIT_RESET_SECONDS": "1",
}


def run(postings: int, logs: Path) -> Outcome:
    with estate("storm", logs, **ERP_SETTINGS) as place:
        return asyncio.run(_storm(place, postings))


async def _storm(place: Estate, postings: int) -> Outcome:
    base = place.start_gateway()
    async with client(base, place.headers()) as http:
        invoice_ids = await register_invoices(http, postings)
        place.erp.set_faults(STORM)
        started = time.monotonic()
        answers = await burst(http, invoice_ids, key_prefix="storm", concurrency=CONCURRENCY)
        burst_seconds = time.monotonic() - started
    report = place.erp.faults()
    place.erp.set_faults(FaultConfig())  # the storm has passed
    await place.drain()
    accepted = {a.invoice_id for a in answers if a.accepted}
    ledger = await count(place, invoice_ids, accepted)
    refused = [a for a in answers if not a.accepted]
    injected = report["injected"]
    assert isinstance(injected, dict)
    summary = (
        f"{ledger.summary()}; answers {tally(answers)} in {burst_seconds:.0f} s; "
        f"ERP faults injected "
        f"{sum(injected.values())} of {report['requests']} requests "
        f"({', '.join(f'{k} {v}' for k, v in sorted(injected.items()))}); "
        f"queue drained in {place.rounds}"
    )
    details = ledger.problems() + [f"refused: {tally(refused)}"] * bool(refused)
    return Outcome(CHECK, ledger.clean and not refused, summary, details)
