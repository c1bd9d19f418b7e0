"""The console's read pages: postings, reconciliation, KPIs, webhooks and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select

from app.experience.console.charts import Chart, bar_chart, percentile
from app.experience.console.queries import PAGE_SIZE, LegalEntity, legal_entities
from app.experience.console.render import page
from app.experience.console.security import Action, SignedIn, acting
from app.experience.ops.audit import AuditFilters, list_events
from core import duplicates as duplicate_counts
from core.canonical.documents import InvoiceStatus
from core.ids import id_pattern
from core.models.base import utcnow
from core.models.invoice import InvoiceRow
from core.models.reconciliation import ReconciliationDifferenceRow
from core.models.workflow_run import WorkflowRunRow
from core.pagination import Cursor
from events.webhooks import service as webhooks
from process_apis.cache import TtlCache
from process_apis.deps import ContextDep, SessionDep
from process_apis.reconciliation import reports
from process_apis.reconciliation import service as reconciliation
from process_apis.reconciliation.periods import month_of
from process_apis.reconciliation.schemas import CAUSES, PERIOD_PATTERN, Cause
from process_apis.runs.queue import queue_condition
from process_apis.summary import Summary, posting_latencies, summarize

router = APIRouter(prefix="/console", include_in_schema=False)

THROUGHPUT_DAYS = 14
BACKLOG = (InvoiceStatus.OPEN, InvoiceStatus.POSTING, InvoiceStatus.POSTING_MISMATCH)
AGE_BUCKETS = ((1, "< 1 h"), (24, "1–24 h"), (24 * 7, "1–7 d"), (None, "> 7 d"))
DIFFERENCES_SHOWN = 500
# How long a period's KPI figures are served before they are computed again.
KPI_SECONDS = 30.0
Period = Annotated[str | None, Query(pattern=PERIOD_PATTERN)]
ReconciliationID = Annotated[str, Path(pattern=id_pattern("reconciliation"))]


def _day(value: object) -> str:
    """`date()` answers text on SQLite and a date on PostgreSQL."""
    return str(value)[:10]


@router.get("/postings")
async def postings(request: Request, session: SessionDep, operator: SignedIn) -> Response:
    """Invoices waiting for the ERP now, and invoices posted per day."""
    now = utcnow()
    backlog = dict(
        (
            await session.execute(
                select(InvoiceRow.status, func.count())
                .where(InvoiceRow.status.in_(BACKLOG))
                .group_by(InvoiceRow.status)
            )
        ).all()
    )
    queued = await session.scalar(
        select(func.count()).where(
            WorkflowRunRow.workflow == "invoice_posting", queue_condition(now)
        )
    )
    since = (now - timedelta(days=THROUGHPUT_DAYS - 1)).replace(hour=0, minute=0, second=0)
    day = func.date(InvoiceRow.posted_at)
    posted = {
        _day(d): n
        for d, n in (
            await session.execute(
                select(day, func.count()).where(InvoiceRow.posted_at >= since).group_by(day)
            )
        ).all()
    }
    days = [(since + timedelta(days=i)).date().isoformat() for i in range(THROUGHPUT_DAYS)]
    chart = bar_chart(
        "throughput",
        f"Invoices posted per day, last {THROUGHPUT_DAYS} days",
        [(d[5:], posted.get(d, 0)) for d in days],
    )
    return page(
        request,
        "postings.html",
        session=operator,
        backlog=[(status, backlog.get(status, 0)) for status in BACKLOG],
        queued=queued or 0,
        chart=chart,
    )


@router.get("/reconciliation")
async def reconciliation_runs(
    request: Request,
    session: SessionDep,
    operator: SignedIn,
    period: Period = None,
    legal_entity: LegalEntity = None,
) -> Response:
    runs = await reconciliation.list_runs(
        session, legal_entity_id=legal_entity, period=period, limit=PAGE_SIZE
    )
    entities = await legal_entities(session)
    return page(
        request,
        "reconciliation.html",
        session=operator,
        runs=runs,
        period=period or month_of(utcnow().date()),
        legal_entity=legal_entity,
        legal_entities=entities,
        codes=dict(entities),
    )


@router.post("/reconciliation")
async def reconcile_now(
    context: ContextDep, action: Annotated[Action, acting("ops:read")]
) -> Response:
    """Reconcile a month of a legal entity now (as `GET /ops/v1/reconciliation` does)."""
    period, legal_entity = action.value("period"), action.value("legal_entity")
    report = await reconciliation.reconcile(context, legal_entity_id=legal_entity, period=period)
    return RedirectResponse(f"/console/reconciliation/{report.id}", status_code=303)


@router.get("/reconciliation/{run_id}")
async def reconciliation_report(
    request: Request, run_id: ReconciliationID, context: ContextDep, operator: SignedIn
) -> Response:
    report = await reports.report(context.sessionmaker, run_id, limit=DIFFERENCES_SHOWN)
    return page(request, "reconciliation_run.html", session=operator, report=report)


@router.get("/reconciliation/{run_id}/differences/{sequence}")
async def reconciliation_difference(
    request: Request,
    run_id: ReconciliationID,
    sequence: Annotated[int, Path(ge=0, le=10_000_000)],
    session: SessionDep,
    operator: SignedIn,
) -> Response:
    row = await session.get(ReconciliationDifferenceRow, (run_id, sequence))
    if row is None:
        return page(
            request,
            "not_found.html",
            session=operator,
            status_code=404,
            what=f"difference {sequence} of {run_id}",
        )
    known = row.cause in {cause.value for cause in Cause}
    explanation = CAUSES[Cause(row.cause)] if known else row.cause
    return page(request, "difference.html", session=operator, row=row, explanation=explanation)


@dataclass(frozen=True)
class KpiFigures:
    summary: Summary
    charts: list[Chart]
    computed_at: datetime
    duplicates: int


@router.get("/kpis")
async def kpis(
    request: Request, session: SessionDep, operator: SignedIn, period: Period = None
) -> Response:
    """The month's figures, with charts: latency percentiles, STP, exception ageing.

    They scan the month's runs, so each period's are kept `KPI_SECONDS` per process.
    """
    period = period or month_of(utcnow().date())
    cache: TtlCache[str, KpiFigures] = request.app.state.console_kpis
    figures = cache.get(period)
    if figures is None:
        figures = await _kpi_figures(session, period)
        cache.put(period, figures)
    return page(
        request,
        "kpis.html",
        session=operator,
        period=period,
        summary=figures.summary,
        charts=figures.charts,
        computed_at=figures.computed_at,
        duplicates=figures.duplicates,
    )


async def _kpi_figures(session: SessionDep, period: str) -> KpiFigures:
    summary = await summarize(session, period=period)
    latencies = await posting_latencies(session, summary.period_start, summary.period_end)
    ageing = await _ageing(session, utcnow())
    days = _days(summary.period_start, summary.period_end)
    duplicates = await duplicate_counts.per_day(session, days[0], days[-1])
    charts = [
        bar_chart(
            "latency",
            "Posting latency percentiles (seconds, registration to ERP acknowledgement)",
            [
                (f"p{int(p * 100)}", round(percentile(latencies, p), 2))
                for p in (0.5, 0.9, 0.95, 0.99)
            ],
        ),
        bar_chart(
            "stp",
            "Straight-through rate per workflow (%)",
            [
                (w.workflow, round((w.straight_through_ratio or 0) * 100, 1))
                for w in summary.workflows
            ],
        ),
        bar_chart("ageing", "Exception ageing (queued runs by age)", ageing),
        bar_chart(
            "duplicates",
            "Duplicates suppressed per day (replays, redelivered webhooks, usage events)",
            [(f"{day:%d}", duplicates.get(day, 0)) for day in days],
        ),
    ]
    return KpiFigures(
        summary=summary,
        charts=charts,
        computed_at=datetime.now(UTC),
        duplicates=sum(duplicates.values()),
    )


def _days(start: datetime, end: datetime) -> list[date]:
    """The days from `start` to `end`, both included."""
    return [start.date() + timedelta(days=n) for n in range((end.date() - start.date()).days + 1)]


async def _ageing(session: SessionDep, now: datetime) -> list[tuple[str, int]]:
    """Queued runs per age bucket, counted in the database."""
    counts, lower = [], 0
    for upper, _label in AGE_BUCKETS:
        condition = WorkflowRunRow.created_at <= now - timedelta(hours=lower)
        if upper is not None:
            condition &= WorkflowRunRow.created_at > now - timedelta(hours=upper)
        counts.append(func.count().filter(condition))
        lower = upper or 0
    row = (await session.execute(select(*counts).where(queue_condition(now)))).one()
    return [(label, int(n)) for (_upper, label), n in zip(AGE_BUCKETS, row, strict=True)]


@router.get("/webhooks")
async def webhook_endpoints(
    request: Request, session: SessionDep, operator: SignedIn, cursor: Cursor = None
) -> Response:
    endpoints, next_cursor = await webhooks.list_endpoints(
        session, None, cursor=cursor, limit=PAGE_SIZE
    )
    return page(
        request,
        "webhooks.html",
        session=operator,
        endpoints=endpoints,
        next_cursor=next_cursor,
        query="",
    )


@router.get("/webhooks/{endpoint_id}")
async def webhook_deliveries(
    request: Request,
    endpoint_id: Annotated[str, Path(pattern=id_pattern("webhook_endpoint"))],
    session: SessionDep,
    operator: SignedIn,
    cursor: Cursor = None,
) -> Response:
    endpoint = await webhooks.find_endpoint(session, endpoint_id, None)
    messages, next_cursor = await webhooks.list_messages(
        session, endpoint, status=None, cursor=cursor, limit=PAGE_SIZE
    )
    return page(
        request,
        "webhook.html",
        session=operator,
        endpoint=endpoint,
        messages=messages,
        next_cursor=next_cursor,
        query="",
    )


@router.get("/audit")
async def audit(
    request: Request,
    session: SessionDep,
    operator: SignedIn,
    client_id: Annotated[str | None, Query(max_length=80)] = None,
    cursor: Cursor = None,
) -> Response:
    """The audit trail, newest first, a page at a time (never the whole table)."""
    filters = AuditFilters(client_id=client_id or None)
    events = await list_events(session, filters, cursor=cursor, limit=PAGE_SIZE)
    return page(
        request,
        "audit.html",
        session=operator,
        events=events.items,
        next_cursor=events.next_cursor,
        client_id=client_id or "",
        query=f"client_id={client_id}" if client_id else "",
    )
