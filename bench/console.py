"""Benchmark: console pages over a large audit trail and a long exception queue.

Run with `uv run python -m bench.console [--audit N] [--exceptions N] [--requests N]`
(defaults: the issue's 1,000,000 audit rows and 100,000 queued runs). On a throwaway
PostgreSQL database (rows bulk-inserted with `generate_series`) it builds the gateway in
this process and signs in as a console operator, then, after one untimed pass, asks for
each page `--requests` times, one at a time over ASGI, alternating rounds: the exception
queue's first page, a deep page (a cursor 90 % of the way down), filtered by error class,
workflow, legal entity (first and deep page; the runs alternate between two) and age, a
run, the audit trail's first and a deep page, KPIs and postings. The baseline in the same
run is the ops API's JSON for the same queue pages (first, legal entity) and audit page
(`GET /ops/v1/exceptions`, `GET /ops/v1/audit`): the ratio is the cost of the console's
session, rendering and HTML over the same query. The KPI page keeps a period's figures
30 s; its baseline, `GET /ops/v1/summary`, computes them on every request, which is what
a cache miss costs (plus the percentiles and the ageing buckets).

It prints p50/p95 per page, appends a dated section to `bench/RESULTS.md`, and exits 1
when a page's p95 exceeds `--max-p95-ms` (300) or a request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime

import httpx
from rich.console import Console

from app.experience.console.operators import create_operator
from app.main import create_app
from app.seed import demo_id
from bench.harness import (
    OPERATOR_CLIENT,
    Database,
    append_results,
    host_line,
    markdown_table,
    percentile,
    rich_table,
    scratch_directory,
    throwaway_database,
)
from bench.scale import AUDIT_EVENTS, execute
from core.db import create_engine, create_sessionmaker
from core.pagination import encode_cursor
from core.settings import Settings

PASSWORD = "bench-console-password"
# Queued runs alternate between the two legal entities.
LG_US, LG_DE = demo_id("legal_entity", 1), demo_id("legal_entity", 2)
QUEUED_RUNS = """
INSERT INTO workflow_runs (id, workflow, subject_id, legal_entity_id, status, params,
    error_class, error_type, error_detail, attempts, next_attempt_at, version, created_at,
    updated_at)
SELECT 'run_' || lpad(g::text, 26, '0'),
    (ARRAY['invoice_posting', 'credit_memo', 'payment', 'settlement_posting'])[1 + g % 4],
    'inv_' || lpad(g::text, 26, '0'),
    (ARRAY[$3::text, $4::text])[1 + g % 2],
    CASE WHEN g % 3 = 0 THEN 'pending_retry' ELSE 'failed' END, '{}',
    (ARRAY['transient', 'business', 'contract'])[1 + g % 3], 'erp-refused',
    'The ERP refused the document', 1, now() + interval '1 hour', 1,
    now() - ($2 - g) * interval '1 second', now()
FROM generate_series($1::bigint, $2::bigint) AS g
"""


def run_id(number: int) -> str:
    return f"run_{number:026d}"


def audit_id(number: int) -> str:
    return f"aud_{number:026d}"


def pages(args: argparse.Namespace) -> dict[str, str]:
    deep_run = encode_cursor(run_id(max(1, args.exceptions // 10)))
    deep_audit = encode_cursor(audit_id(max(1, args.audit // 10)))
    return {
        "exceptions, first page": "/console/exceptions",
        "exceptions, page at 90 %": f"/console/exceptions?cursor={deep_run}",
        "exceptions, class business": "/console/exceptions?error_class=business",
        "exceptions, workflow payment": "/console/exceptions?workflow=payment",
        "exceptions, legal entity LG-US": f"/console/exceptions?legal_entity={LG_US}",
        "exceptions, LG-US page at 90 %": (
            f"/console/exceptions?legal_entity={LG_US}&cursor={deep_run}"
        ),
        "exceptions, older than 12 h": "/console/exceptions?min_age_hours=12",
        "a run": f"/console/runs/{run_id(args.exceptions // 2)}",
        "audit, first page": "/console/audit",
        "audit, page at 90 %": f"/console/audit?cursor={deep_audit}",
        "KPIs": "/console/kpis",
        "postings": "/console/postings",
    }


BASELINES = {
    "exceptions, first page": "/ops/v1/exceptions",
    "exceptions, legal entity LG-US": f"/ops/v1/exceptions?legal_entity={LG_US}",
    "audit, first page": "/ops/v1/audit",
    "KPIs": f"/ops/v1/summary?period={datetime.now(UTC):%Y-%m}",
}


async def measure(database: Database, args: argparse.Namespace) -> dict[str, list[float]]:
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=database.url,
        migrate_on_start=False,
        seed_demo_data=False,
    )
    engine = create_engine(database.url)
    async with create_sessionmaker(engine).begin() as session:
        await create_operator(session, name="bench", role="operator", password=PASSWORD)
    await engine.dispose()
    app = create_app(settings)
    samples: dict[str, list[float]] = defaultdict(list)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://console.bench") as browser,
            httpx.AsyncClient(transport=transport, base_url="http://console.bench") as api,
        ):
            signed = await browser.post(
                "/console/sign-in", data={"name": "bench", "password": PASSWORD}
            )
            assert signed.status_code == 303, signed.text
            token = await api.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=OPERATOR_CLIENT
            )
            api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            loads = [(name, browser, path) for name, path in pages(args).items()]
            loads += [(f"baseline: {n}", api, p) for n, p in BASELINES.items()]
            for _name, client, path in loads:  # warm-up: templates compiled, caches filled
                await client.get(path)
            for round_ in range(args.requests):
                for name, client, path in loads if round_ % 2 == 0 else reversed(loads):
                    started = time.perf_counter()
                    answer = await client.get(path)
                    elapsed = (time.perf_counter() - started) * 1000
                    if answer.status_code != 200:
                        samples[f"failed: {name}"].append(answer.status_code)
                    samples[name].append(elapsed)
    return samples


def report(samples: dict[str, list[float]], args: argparse.Namespace, database: Database) -> int:
    rows, problems = [], []
    for name, values in samples.items():
        if name.startswith("failed: ") or name.startswith("baseline: "):
            continue
        p50, p95 = percentile(values, 50), percentile(values, 95)
        baseline = samples.get(f"baseline: {name}")
        ratio = f"{p50 / percentile(baseline, 50):.2f}" if baseline else ""
        rows.append([name, f"{p50:.1f}", f"{p95:.1f}", ratio])
        if p95 > args.max_p95_ms:
            problems.append(f"{name}: p95 {p95:.0f} ms over {args.max_p95_ms} ms")
    for name in BASELINES:
        values = samples[f"baseline: {name}"]
        rows.append(
            [
                f"baseline: `/ops/v1` JSON, {name}",
                f"{percentile(values, 50):.1f}",
                f"{percentile(values, 95):.1f}",
                "1.00",
            ]
        )
    problems += [
        f"{name}: status {set(v)}" for name, v in samples.items() if name.startswith("failed")
    ]
    columns = ["page", "p50 ms", "p95 ms", "p50 / JSON API"]
    Console().print(rich_table("Console pages", columns, rows))
    command = (
        f"uv run python -m bench.console --audit {args.audit} --exceptions {args.exceptions} "
        f"--requests {args.requests}"
    )
    append_results(
        f"## Console pages ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n"
        f"Command `{command}`; {database.description}; {args.audit:,} audit rows, "
        f"{args.exceptions:,} queued runs; {args.requests} requests per page, one at a "
        f"time in process over ASGI; {host_line()}.\n\n"
        + markdown_table(columns, rows)
        + ("\n" + "\n".join(f"- FAILED {p}" for p in problems) + "\n" if problems else "")
    )
    for problem in problems:
        print(f"FAILED {problem}", file=sys.stderr)  # noqa: T201
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audit", type=int, default=1_000_000, help="audit rows")
    parser.add_argument("--exceptions", type=int, default=100_000, help="queued runs")
    parser.add_argument("--requests", type=int, default=40, help="requests per page")
    parser.add_argument("--max-p95-ms", type=float, default=300.0)
    args = parser.parse_args()
    with scratch_directory() as scratch, throwaway_database(scratch) as database:
        if not database.url.startswith("postgresql"):
            print("bench.console needs PostgreSQL (generate_series)", file=sys.stderr)  # noqa: T201
            return 2
        seconds = execute(
            database,
            (AUDIT_EVENTS, (1, args.audit)),
            (QUEUED_RUNS, (1, args.exceptions, LG_US, LG_DE)),
        )
        print(f"seeded in {seconds:.1f} s")  # noqa: T201
        return report(asyncio.run(measure(database, args)), args, database)


if __name__ == "__main__":
    sys.exit(main())
