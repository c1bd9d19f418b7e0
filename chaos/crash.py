"""Crash: the gateway is killed with SIGKILL in the middle of a burst and restarted.

The kill comes after a quarter of the postings have been answered, with twenty more
in flight. The dead process's leases and locks run out (time passes), the replay
worker resumes the runs it held, the gateway is started again on the same database,
the client sends every posting that got no answer again with the same
Idempotency-Key (each is posted now, or answered as already posted), and the ledger
count follows.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from chaos.estate import Estate, estate
from chaos.ledger import count
from chaos.load import Answer, burst, client, register_invoices, tally
from chaos.report import Outcome

CHECK = "crash"
CONCURRENCY = 20


def run(postings: int, logs: Path) -> Outcome:
    with estate("crash", logs) as place:
        return asyncio.run(_crash(place, postings))


async def _crash(place: Estate, postings: int) -> Outcome:
    base = place.start_gateway()
    kill_after = max(1, postings // 4)
    async with client(base, place.headers()) as http:
        invoice_ids = await register_invoices(http, postings)

        async def kill_at(_: Answer, answered: int) -> None:
            if answered == kill_after and place.gateway is not None:
                os.kill(place.gateway.pid, signal.SIGKILL)

        before = await burst(
            http, invoice_ids, key_prefix="crash", concurrency=CONCURRENCY, on_answer=kill_at
        )
    assert place.gateway is not None
    killed = place.gateway.wait(timeout=10) == -signal.SIGKILL
    unanswered = [a.invoice_id for a in before if a.status == 0]

    await place.time_passes()
    await place.drain()  # the worker finishes the runs the dead process held
    drained = place.rounds
    base = place.start_gateway()
    async with client(base, place.headers()) as http:
        retried = await burst(http, unanswered, key_prefix="crash", concurrency=CONCURRENCY)
    place.stop_gateway()
    await place.drain()

    answers = [a for a in before if a.status != 0] + retried
    accepted = {a.invoice_id for a in answers if a.accepted}
    ledger = await count(place, invoice_ids, accepted)
    refused = [a for a in answers if not a.accepted]
    summary = (
        f"{ledger.summary()}; SIGKILL after {kill_after} answers, "
        f"{drained} resumed the dead process's runs, then the "
        f"{len(unanswered)} unanswered postings were sent again ({tally(retried)})"
    )
    details = ledger.problems()
    if not killed:
        details.append("the gateway did not die of the SIGKILL")
    if not unanswered:
        details.append("the kill came too late to interrupt any posting")
    if refused:
        details.append(f"refused: {tally(refused)}")
    return Outcome(CHECK, not details, summary, details)
