"""Retries follow the configured schedule with ±10 % jitter, then stop."""

from __future__ import annotations

import random
from datetime import timedelta

from core.settings import WebhookSettings
from events.webhooks.delivery import retry_delay

SCHEDULE = WebhookSettings().retry_schedule_seconds


def test_the_default_schedule_spans_about_a_day() -> None:
    assert SCHEDULE == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert timedelta(hours=20) < timedelta(seconds=sum(SCHEDULE)) < timedelta(hours=30)


def test_each_wait_is_the_schedule_s_within_ten_percent_and_jittered() -> None:
    rng = random.Random(7)
    for number, seconds in enumerate(SCHEDULE, start=1):
        waits = {retry_delay(SCHEDULE, number, rng=rng) for _ in range(20)}
        assert all(
            w is not None and 0.9 * seconds <= w.total_seconds() <= 1.1 * seconds for w in waits
        )
        assert len(waits) > 1


def test_no_wait_is_left_after_the_last_retry() -> None:
    assert retry_delay(SCHEDULE, len(SCHEDULE) + 1, rng=random.Random()) is None
