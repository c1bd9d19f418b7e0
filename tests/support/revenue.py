"""The revenue tests' own bookkeeping, independent of the product's schedule code: a
day-ratable split of a billed amount over its service days, what each billed line earns
in each month as credits and amendments change it, the waterfall that follows; and the
ops calls the tests make to recognize a month and read the proof."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import httpx

from app.seed import demo_id

US_ENTITY = demo_id("legal_entity", 1)
OPS = ["ops:read", "ops:write", "refdata:write", "invoices:read"]


def month_key(day: date) -> str:
    return f"{day:%Y-%m}"


def split_by_days(amount: int, start: date, end: date) -> dict[str, int]:
    """The test's own ratable split: exact shares as fractions, rounded down, the cents
    left over to the largest fractions (earliest month first on a tie)."""
    days: dict[str, int] = defaultdict(int)
    day = start
    while day <= end:
        days[month_key(day)] += 1
        day += timedelta(days=1)
    total = sum(days.values())
    exact = {month: Fraction(abs(amount) * count, total) for month, count in days.items()}
    parts = {month: int(share) for month, share in exact.items()}
    order = sorted(exact, key=lambda month: (-(exact[month] - parts[month]), month))
    for month in order[: abs(amount) - sum(parts.values())]:
        parts[month] += 1
    sign = -1 if amount < 0 else 1
    return {month: sign * part for month, part in parts.items()}


@dataclass
class Line:
    """One billed line as the test follows it: what it earns in each month."""

    start: date
    end: date
    earns: dict[str, int] = field(default_factory=dict)

    def adjust(self, amount: int, effective: date) -> None:
        """Prospectively: the months from `effective`'s on earn what was left plus `amount`."""
        first = month_key(effective)
        left = sum(v for month, v in self.earns.items() if month >= first)
        kept = {month: v for month, v in self.earns.items() if month < first}
        new_total = left + amount
        window = max(self.start, effective.replace(day=1))
        spread = split_by_days(max(new_total, 0), window, self.end) if left else {}
        if not left:
            spread = {first: amount}
        elif new_total < 0:
            spread[min(spread)] += new_total
        for month, v in spread.items():
            kept[month] = kept.get(month, 0) + v
        self.earns = kept

    def add(self, amount: int, start: date, end: date) -> None:
        """An amendment's proration: earned over the days it serves (all in open months)."""
        for month, v in split_by_days(amount, start, end).items():
            self.earns[month] = self.earns.get(month, 0) + v


@dataclass
class Book:
    lines: dict[str, Line] = field(default_factory=dict)
    billed: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def bill(
        self, key: str, amount: int, start: date, end: date, on: date, *, point: bool = False
    ) -> None:
        earns = {month_key(start): amount} if point else split_by_days(amount, start, end)
        self.lines[key] = Line(start, end, earns)
        self.billed[month_key(on)] += amount

    def credit(self, key: str, amount: int, on: date) -> None:
        self.lines[key].adjust(-amount, on)
        self.billed[month_key(on)] -= amount

    def prorate(self, key: str, amount: int, start: date, end: date, on: date) -> None:
        """An amendment's net proration (negative: a credit) on the line serving `start`."""
        self.lines[key].add(amount, start, end)
        self.billed[month_key(on)] += amount

    def waterfall(self, months: list[str]) -> list[dict[str, Any]]:
        rows, deferred = [], 0
        for month in months:
            earned = sum(line.earns.get(month, 0) for line in self.lines.values())
            deferred += self.billed.get(month, 0) - earned
            rows.append(
                {
                    "month": month,
                    "currency": "USD",
                    "billed": self.billed.get(month, 0),
                    "recognized": earned,
                    "deferred": deferred,
                }
            )
        return rows


def day_of(stamp: str) -> date:
    return datetime.fromisoformat(stamp).astimezone(UTC).date()


def proration_days(result: dict[str, Any]) -> tuple[date, date]:
    """The days billing's proration lines serve (a period runs to the next one's start)."""
    lines = result["proration"]["lines"]
    first = min(day_of(line["period_start"]) for line in lines)
    last = max(day_of(line["period_end"]) for line in lines) - timedelta(days=1)
    return first, last


def signed_net(result: dict[str, Any]) -> int:
    adjustment = result["erp_adjustment"]
    sign = -1 if adjustment["kind"] == "credit_memo" else 1
    return sign * int(adjustment["amount"])


def served_line(
    body: dict[str, Any], description: str, start: date, end: date, *, product: str | None = None
) -> None:
    line = next(line for line in body["lines"] if line["description"] == description)
    line["service_period_start"] = start.isoformat()
    line["service_period_end"] = end.isoformat()
    if product is not None:
        line["product_id"] = product


async def recognition_run(ops: httpx.AsyncClient, period: str, key: str) -> httpx.Response:
    return await ops.post(
        "/ops/v1/revenue/recognition-runs",
        json={"legal_entity_id": US_ENTITY, "period": period},
        headers={"Idempotency-Key": key},
    )


async def recognize(ops: httpx.AsyncClient, period: str, key: str) -> dict[str, Any]:
    response = await recognition_run(ops, period, key)
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def deferred_revenue_check(
    ops: httpx.AsyncClient, period: str
) -> tuple[list[int], list[dict[str, Any]]]:
    """The month's reconciliation of deferred revenue: its USD totals (the schedules', the
    ERP's) and its differences."""
    response = await ops.get(
        "/ops/v1/reconciliation", params={"legal_entity": US_ENTITY, "period": period}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    [totals] = [
        [line["gateway_total"], line["erp_total"]]
        for line in report["totals"]
        if line["document_type"] == "deferred_revenue" and line["currency"] == "USD"
    ]
    found = [d for d in report["differences"] if d["document_type"] == "deferred_revenue"]
    return totals, found


async def assert_waterfall(
    ops: httpx.AsyncClient, months: list[str], expected: list[dict[str, Any]]
) -> None:
    """The waterfall over `months`, as JSON and as CSV, is `expected` to the cent."""
    params = {"legal_entity": US_ENTITY, "from": months[0], "to": months[-1]}
    waterfall = await ops.get("/ops/v1/revenue/waterfall", params=params)
    assert waterfall.status_code == 200, waterfall.text
    assert waterfall.json()["months"] == expected
    csv = await ops.get("/ops/v1/revenue/waterfall", params={**params, "format": "csv"})
    assert csv.status_code == 200, csv.text
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines() == [
        ",".join(expected[0]),
        *(",".join(str(v) for v in row.values()) for row in expected),
    ]
