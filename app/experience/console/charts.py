"""Bar charts drawn on the server as SVG geometry (no script, no inline style)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 640
BAR_AREA = 200
TOP_ROOM = 28  # the value above the tallest bar
LABEL_ROOM = 34


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    bars: list[Bar]
    width: int = WIDTH
    height: int = TOP_ROOM + BAR_AREA + LABEL_ROOM

    @property
    def empty(self) -> bool:
        return not any(bar.value for bar in self.bars)


def bar_chart(
    chart_id: str, title: str, points: Sequence[tuple[str, float]], *, unit: str = ""
) -> Chart:
    """Bars scaled to the largest value; each carries its label and its value as text."""
    top = max((value for _, value in points), default=0) or 1
    slot = WIDTH / max(len(points), 1)
    bars = []
    for index, (label, value) in enumerate(points):
        height = BAR_AREA * value / top
        bars.append(
            Bar(
                label=label,
                value=value,
                text=f"{value:g}{unit}",
                x=index * slot + slot * 0.15,
                y=TOP_ROOM + BAR_AREA - height,
                width=slot * 0.7,
                height=height,
            )
        )
    return Chart(id=chart_id, title=title, bars=bars)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of `values` (0 when there are none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]
