"""The console's revenue view: a legal entity's waterfall by month with its deferred balance
(as `/ops/v1/revenue/waterfall`, and its CSV), the schedules behind the last month, and an
invoice's schedule (as `/v1/invoices/{id}/revenue-schedule`)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from app.experience.console.charts import bar_chart
from app.experience.console.errors import MonthRangeTooLong
from app.experience.console.queries import PAGE_SIZE, LegalEntity, legal_entities
from app.experience.console.render import page
from app.experience.console.security import SignedIn, signed_in
from app.experience.ops.revenue import MONTH
from core.ids import id_pattern
from core.models.base import utcnow
from core.pagination import Cursor
from process_apis.deps import ContextDep, SessionDep
from process_apis.revenue import reports
from process_apis.revenue.schemas import Waterfall

router = APIRouter(prefix="/console", include_in_schema=False)

# A waterfall shows at most this many months (each is a row per currency).
MAX_MONTHS = 36
SHOWN_MONTHS = 12
FromMonth = Annotated[str | None, Query(alias="from", pattern=MONTH)]
ToMonth = Annotated[str | None, Query(alias="to", pattern=MONTH)]
InvoiceID = Annotated[str, Path(pattern=id_pattern("invoice"))]


def _month_index(month: str) -> int:
    year, number = month.split("-")
    return int(year) * 12 + int(number) - 1


def _month(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _range(from_month: str | None, to_month: str | None) -> tuple[str, str]:
    """The months asked for; by default the last `SHOWN_MONTHS` up to this one."""
    last = to_month or f"{utcnow():%Y-%m}"
    first = from_month or _month(_month_index(last) - SHOWN_MONTHS + 1)
    if not 0 <= _month_index(last) - _month_index(first) < MAX_MONTHS:
        raise MonthRangeTooLong(
            f"from {first} to {last}: the first month comes before the last, "
            f"and at most {MAX_MONTHS} months are shown"
        )
    return first, last


async def _waterfall(
    context: ContextDep, legal_entity: str, from_month: str | None, to_month: str | None
) -> Waterfall:
    first, last = _range(from_month, to_month)
    return await reports.waterfall(
        context, legal_entity_id=legal_entity, from_month=first, to_month=last
    )


@router.get("/revenue")
async def revenue(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    operator: SignedIn,
    legal_entity: LegalEntity = None,
    from_month: FromMonth = None,
    to_month: ToMonth = None,
    cursor: Cursor = None,
) -> Response:
    """The waterfall (one deferred-balance chart per currency) and, paged, each schedule's
    billed, recognized and deferred at the last month's end, each linked to its invoice."""
    entities = await legal_entities(session)
    chosen = legal_entity or (entities[0][0] if entities else None)
    if chosen is None:
        return page(
            request, "not_found.html", session=operator, status_code=404, what="a legal entity"
        )
    report = await _waterfall(context, chosen, from_month, to_month)
    currencies = sorted({row.currency for row in report.months})
    charts = [
        bar_chart(
            f"deferred-{currency.lower()}",
            f"Deferred revenue at each month's end, {currency} (cents)",
            [(row.month, row.deferred) for row in report.months if row.currency == currency],
        )
        for currency in currencies
    ]
    balances = await reports.schedule_balances(
        context, legal_entity_id=chosen, period=report.to_month, cursor=cursor, limit=PAGE_SIZE
    )
    query = urlencode({"legal_entity": chosen, "from": report.from_month, "to": report.to_month})
    return page(
        request,
        "revenue.html",
        session=operator,
        legal_entities=entities,
        legal_entity=chosen,
        report=report,
        charts=charts,
        schedules=balances.items,
        next_cursor=balances.next_cursor,
        query=query,
    )


@router.get("/revenue/waterfall.csv", dependencies=[Depends(signed_in)])
async def waterfall_csv(
    context: ContextDep,
    legal_entity: Annotated[str, Query(pattern=id_pattern("legal_entity"))],
    from_month: FromMonth = None,
    to_month: ToMonth = None,
) -> Response:
    """The waterfall shown, as the CSV of `/ops/v1/revenue/waterfall?format=csv`."""
    report = await _waterfall(context, legal_entity, from_month, to_month)
    name = f"waterfall-{report.from_month}-{report.to_month}.csv"
    return Response(
        reports.waterfall_csv(report),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/revenue/invoices/{invoice_id}")
async def invoice_schedule(
    request: Request, invoice_id: InvoiceID, context: ContextDep, operator: SignedIn
) -> Response:
    """How each line of the invoice is earned month by month, and its adjustments."""
    schedule = await reports.invoice_schedule(context, invoice_id)
    return page(request, "revenue_schedule.html", session=operator, schedule=schedule)
