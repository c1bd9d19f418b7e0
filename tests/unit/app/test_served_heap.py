"""A served worker's collector: the startup heap frozen and young collections rarer while
the app runs, the collector as it was once the app has stopped."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from starlette.applications import Starlette

from app import main
from app.served_heap import THRESHOLDS, collect_for_serving


def started_app() -> tuple[Starlette, list[str]]:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        events.append("started")
        yield
        events.append("stopped")

    return Starlette(lifespan=lifespan), events


async def test_the_heap_is_frozen_once_the_app_has_started_and_thawed_when_it_stops() -> None:
    app, events = started_app()
    collect_for_serving(app)
    before = gc.get_threshold()
    async with app.router.lifespan_context(app):
        assert events == ["started"]
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == THRESHOLDS
    assert events == ["started", "stopped"]
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


async def test_the_served_app_collects_for_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    app, _ = started_app()
    monkeypatch.setattr(main, "create_app", lambda _settings: app)
    monkeypatch.setattr(main, "configure_logging", lambda _level: None)
    served = main.create_served_app()
    async with served.router.lifespan_context(served):
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == THRESHOLDS[0] != 700
    assert gc.get_freeze_count() == 0
