"""Database restart: PostgreSQL is stopped mid-burst, kept down briefly, and started again.

The server is shared with whatever else runs on this machine, so the outage is short
(`--outage`, 2 s) and the server is started again whatever happens. While it is down
every posting must fail cleanly: a 503 `database-unavailable` problem with
`Retry-After`, never a 500 or a dropped connection. Once it is back the gateway must
be ready again without a restart (its pool pings idle connections before use, and a
connection found dead in use replaces the whole pool); the client
sends every refused posting again with the same Idempotency-Key, the replay worker
drains the queue, and the ledger count follows: nothing half-written.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import httpx

from chaos.estate import Estate, estate
from chaos.ledger import count
from chaos.load import Answer, burst, client, register_invoices, tally
from chaos.report import Outcome

CHECK = "database restart"
CONCURRENCY = 20
CLUSTERS = Path("/etc/postgresql")
UNAVAILABLE = "https://ledgergate.dev/problems/database-unavailable"
READY_SECONDS = 60.0


def cluster() -> list[str] | None:
    """`pg_ctlcluster` and the one cluster's version and name, where this machine has them."""
    versions = sorted(p.name for p in CLUSTERS.iterdir()) if CLUSTERS.is_dir() else []
    if shutil.which("pg_ctlcluster") is None or len(versions) != 1:
        return None
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main"]


async def _pg(command: list[str], action: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, action, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"pg_ctlcluster {action}: {stderr.decode().strip()}")


async def outage(command: list[str], seconds: float) -> None:
    """Stop the server, keep it down `seconds`, start it again (always)."""
    try:
        await _pg(command, "stop")
        await asyncio.sleep(seconds)
    finally:
        await _pg(command, "start")


def run(postings: int, logs: Path, *, outage: float) -> Outcome:
    command = cluster()
    if command is None:
        return Outcome(CHECK, None, f"no pg_ctlcluster or not one cluster in {CLUSTERS}")
    with estate("database", logs) as place:
        return asyncio.run(_restart(place, postings, command, outage))


async def _ready_after(base: str) -> float:
    """Seconds until `/readyz` answers 200 again."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        while time.monotonic() - started < READY_SECONDS:
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the gateway was not ready {READY_SECONDS:.0f} s after the restart")


async def _restart(place: Estate, postings: int, command: list[str], seconds: float) -> Outcome:
    base = place.start_gateway()
    stop_after = max(1, postings // 4)
    down: list[asyncio.Task[None]] = []
    async with client(base, place.headers()) as http:
        invoice_ids = await register_invoices(http, postings)

        async def stop_at(_: Answer, answered: int) -> None:
            if answered == stop_after:
                down.append(asyncio.create_task(outage(command, seconds)))

        try:
            during = await burst(
                http, invoice_ids, key_prefix="restart", concurrency=CONCURRENCY, on_answer=stop_at
            )
        finally:
            await asyncio.gather(*down)  # the server is started again, whatever happened
        ready = await _ready_after(base)
        await place.time_passes()
        refused = [a.invoice_id for a in during if not a.accepted]
        retried = await burst(http, refused, key_prefix="restart", concurrency=CONCURRENCY)
    place.stop_gateway()
    await place.drain()

    answers = [a for a in during if a.accepted] + retried
    ledger = await count(place, invoice_ids, {a.invoice_id for a in answers if a.accepted})
    unclean = [a for a in during if not a.accepted and not _clean_refusal(a)]
    summary = (
        f"{ledger.summary()}; burst answers {tally(during)}, "
        f"ready {ready:.1f} s after PostgreSQL was back, refused postings sent again "
        f"({tally(retried)}); "
        f"queue drained in {place.rounds}"
    )
    details = ledger.problems()
    if unclean:
        details.append(f"not a clean 503 problem: {tally(unclean)}")
    if len(refused) == 0:
        details.append("the outage refused no posting: it came too late")
    if not all(a.accepted for a in retried):
        details.append(f"refused after recovery: {tally([a for a in retried if not a.accepted])}")
    return Outcome(CHECK, not details, summary, details)


def _clean_refusal(answer: Answer) -> bool:
    return answer.status == 503 and answer.problem == UNAVAILABLE and bool(answer.retry_after)
