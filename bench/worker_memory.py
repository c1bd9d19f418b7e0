"""Benchmark: a gateway worker's resident memory after start-up and after a fixed load.

Run with `uv run python -m bench.worker_memory [--workers W] [--postings N]
[--concurrency C] [--tokens T] [--redis]`. On a throwaway database (PostgreSQL on
127.0.0.1:5432, else SQLite) it starts the ERP, billing, CRM and support sandboxes, a
process each, and the gateway (`bench.serve gateway`, uvicorn with `--workers` workers)
configured as in production: every backend over HTTP at its URL, no sandbox in the
gateway's processes; with `--redis` its rate limits count in Redis
(`redis://127.0.0.1:6379/15`, as `bench.posting` serves them; memory if unreachable).
Then it reads each worker's `VmRSS` and `VmHWM` from `/proc`:

1. once every worker answers (start-up);
2. after `--tokens` token requests sent `--concurrency` at a time, by a client whose
   secret the gateway generated, as production clients' are;
3. after registering and posting `--postings` invoices (`POST /v1/invoices`, then
   `POST /v1/invoices/{id}/postings` with a fresh `Idempotency-Key`), `--concurrency`
   in flight.

The figures are counts of a fixed amount of work, not rates, so a loaded host changes
them little. Nothing is appended to `bench/RESULTS.md`: the lines printed are the record.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from contextlib import nullcontext
from datetime import date
from pathlib import Path

import httpx

from bench.harness import (
    Server,
    backend_sandboxes,
    backend_urls,
    host_line,
    invoice_body,
    issue_token,
    rate_limit_storage,
    running,
    scratch_directory,
    throwaway_database,
)


def worker_status(server: Server) -> str:
    """`pid 123 VmRSS 150 MiB VmHWM 160 MiB` for each worker (the one process with one)."""
    peaks = [p for p in server.peak_memory() if p.role != "supervisor"]
    lines = []
    for peak in peaks:
        fields = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{peak.pid}/status").read_text().splitlines()
            if line.startswith(("VmRSS", "VmHWM", "RssAnon", "RssFile"))
        )
        figures = " ".join(f"{k} {int(v.split()[0]) / 1024:.0f}" for k, v in fields.items())
        lines.append(f"pid {peak.pid} ({peak.role}): {figures} MiB")
    return "; ".join(lines)


async def tokens(server: Server, count: int, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:

        async def one() -> None:
            async with gate:
                response = await client.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials", "scope": "invoices:read"},
                    auth=server.database.platform_client,
                )
                response.raise_for_status()

        await asyncio.gather(*(one() for _ in range(count)))


async def postings(server: Server, token: str, count: int, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, headers=headers) as client:

        async def one() -> None:
            async with gate:
                created = await client.post("/v1/invoices", json=invoice_body(date.today()))
                created.raise_for_status()
                posted = await client.post(
                    f"/v1/invoices/{created.json()['id']}/postings",
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                    json={},
                )
                posted.raise_for_status()

        await asyncio.gather(*(one() for _ in range(count)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--postings", type=int, default=300)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--redis", action="store_true", help="count rate limits in Redis, as bench.posting does"
    )
    args = parser.parse_args()
    print(f"host: {host_line()}")  # noqa: T201
    limits = rate_limit_storage() if args.redis else nullcontext(("memory://", "memory"))
    with (
        scratch_directory() as scratch,
        throwaway_database(scratch) as database,
        limits as (storage_url, storage),
    ):
        sandboxes = backend_sandboxes(database, scratch)
        gateway = Server(
            "gateway",
            database,
            scratch,
            workers=args.workers,
            LEDGERGATE_RATE_LIMIT_STORAGE_URL=storage_url,
        )
        gateway.env.update(backend_urls(sandboxes))
        print(f"database: {database.description}; rate limits: {storage}")  # noqa: T201
        with running([*sandboxes.values(), gateway]):
            print(f"started: {worker_status(gateway)}")  # noqa: T201
            asyncio.run(tokens(gateway, args.tokens, args.concurrency))
            print(f"after {args.tokens} tokens: {worker_status(gateway)}")  # noqa: T201
            token = issue_token(gateway, "invoices:write invoices:post", database.platform_client)
            asyncio.run(postings(gateway, token, args.postings, args.concurrency))
            print(f"after {args.postings} postings: {worker_status(gateway)}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
