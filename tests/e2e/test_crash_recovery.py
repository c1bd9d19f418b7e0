"""A gateway killed with SIGKILL in the middle of a burst of postings loses no run.

The ERP sandbox runs as its own process, so its ledger outlives the gateway. After
the kill the gateway is restarted on the same database, the runs the dead process
held are picked up once their lease has passed (moved forward here), the replay
worker drains them, and then: every posting the gateway had accepted is posted,
no invoice is stuck half-way, and the ERP holds at most one document per invoice.
"""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.gateway_process import gateway_env, start_gateway, stop, token
from tests.support.invoices import US_COMPANY, invoice_body
from tests.support.sandbox_processes import (
    BC_API_ROOT,
    REPO_ROOT,
    UNREACHABLE_URLS,
    sandbox_process,
)

INVOICES = 60
KILL_AFTER = 12  # answers received before the kill


def erp_documents(origin: str, invoice_id: str) -> int:
    url = f"{origin}{BC_API_ROOT}/companies({US_COMPANY})/salesInvoices"
    response = httpx.get(url, params={"$filter": f"externalDocumentNumber eq '{invoice_id}'"})
    response.raise_for_status()
    return len(response.json()["value"])


async def burst(
    base: str, headers: dict[str, str], invoice_ids: list[str], process: subprocess.Popen[bytes]
) -> dict[str, int]:
    """Post every invoice at once; SIGKILL the gateway after `KILL_AFTER` answers."""
    answers: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:

        async def post(invoice_id: str) -> None:
            try:
                response = await client.post(
                    f"/v1/invoices/{invoice_id}/postings",
                    json={},
                    headers={"Idempotency-Key": f"crash-{invoice_id}"},
                )
            except httpx.TransportError:
                return
            answers[invoice_id] = response.status_code
            if len(answers) == KILL_AFTER:
                os.kill(process.pid, signal.SIGKILL)

        await asyncio.gather(*(post(invoice_id) for invoice_id in invoice_ids))
    return answers


def expire_leases(database: Path) -> None:
    """Time passes: the dead process's leases and the queue's backoffs run out."""
    with sqlite3.connect(database) as connection:
        connection.execute(
            "UPDATE workflow_runs SET next_attempt_at = '2000-01-01 00:00:00.000000' "
            "WHERE status IN ('running', 'pending_retry')"
        )


async def test_a_killed_gateway_loses_no_accepted_posting(tmp_path: Path) -> None:
    database = tmp_path / "crash.db"
    with sandbox_process("erp") as erp:
        env = gateway_env(
            database,
            **{**UNREACHABLE_URLS, "LEDGERGATE_ERP__URL": erp.api_root},
            # one client sends the whole burst at once: neither its rate limit nor its
            # cap on bodies in transit may refuse what the crash is meant to interrupt
            LEDGERGATE_RATE_LIMITS__ENABLED="false",
            LEDGERGATE_MAX_UPLOADS_PER_CLIENT=str(INVOICES),
        )
        process, base = start_gateway(env, log=tmp_path / "gateway-1.log")
        try:
            headers = {"Authorization": f"Bearer {token(base)}"}
            invoice_ids = [
                httpx.post(f"{base}/v1/invoices", json=invoice_body(), headers=headers).json()["id"]
                for _ in range(INVOICES)
            ]
            answers = await burst(base, headers, invoice_ids, process)
            process.wait(timeout=10)
            assert process.returncode == -signal.SIGKILL
        finally:
            stop(process)
        accepted = {i for i, status in answers.items() if status in (200, 201, 202)}
        assert len(accepted) >= KILL_AFTER - 1
        assert len(answers) < INVOICES, "the kill came too late to interrupt anything"

        expire_leases(database)
        drained = subprocess.run(
            [sys.executable, "-m", "app.cli", "worker", "--once"],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert drained.returncode == 0, drained.stderr[-2000:]

        process, base = start_gateway(env, log=tmp_path / "gateway-2.log")
        try:
            headers = {"Authorization": f"Bearer {token(base)}"}
            statuses = {
                i: httpx.get(f"{base}/v1/invoices/{i}", headers=headers).json()["status"]
                for i in invoice_ids
            }
        finally:
            stop(process)
        assert all(statuses[i] == "posted" for i in accepted), statuses
        assert set(statuses.values()) <= {"posted", "open"}, "an invoice was left half-posted"
        for invoice_id, status in statuses.items():
            assert erp_documents(erp.origin, invoice_id) == (1 if status == "posted" else 0)
