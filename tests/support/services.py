"""The services some tests need (PostgreSQL, Redis, NATS, the npm tools): skip or fail.

On a laptop a test whose service is missing skips; under `CI=true` (what `.ci/run`
sets) it fails, so a CI run never passes by testing less.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def service_missing(name: str, reason: str) -> NoReturn:
    """Skip the test, or fail it under CI, because `name` cannot be used."""
    if under_ci():
        pytest.fail(f"{name} is required under CI=true: {reason}")
    pytest.skip(f"{name} not available: {reason}")
