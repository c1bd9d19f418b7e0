"""The console's server-drawn charts and its role mapping."""

from __future__ import annotations

import pytest

from app.experience.console.charts import bar_chart, percentile
from app.experience.console.roles import ROLES, strongest


def test_bars_scale_to_the_largest_value_and_carry_their_figures() -> None:
    chart = bar_chart("c", "Title", [("a", 1), ("b", 4), ("c", 0)])
    heights = [bar.height for bar in chart.bars]
    assert heights[1] == max(heights)
    assert heights[0] == heights[1] / 4
    assert heights[2] == 0
    assert [bar.text for bar in chart.bars] == ["1", "4", "0"]
    assert not chart.empty
    assert bar_chart("e", "Empty", [("a", 0)]).empty


@pytest.mark.parametrize(("share", "expected"), [(0.5, 50), (0.9, 90), (0.99, 99), (1.0, 100)])
def test_percentiles_are_nearest_rank(share: float, expected: float) -> None:
    assert percentile([float(v) for v in range(100, 0, -1)], share) == expected


def test_no_values_is_a_zero_percentile() -> None:
    assert percentile([], 0.5) == 0


def test_the_strongest_mapped_role_wins_and_roles_are_existing_scopes() -> None:
    assert strongest({"viewer", "operator"}) == "operator"
    assert strongest({"admin"}) is None
    from core.scopes import SCOPES

    assert all(scope in SCOPES for scopes in ROLES.values() for scope in scopes)
