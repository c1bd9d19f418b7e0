"""The webhook context follows the settings: https only in production, the private switch."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker

from core.settings import Settings
from events.webhooks.context import WebhookContext
from tests.support.production import PRODUCTION


def test_production_delivers_over_https_only() -> None:
    settings = Settings(_env_file=None, **PRODUCTION)  # type: ignore[arg-type]
    context = WebhookContext.build(settings, async_sessionmaker())
    assert context.guard.https_only is True
    assert context.guard.allow_private is False


def test_elsewhere_plain_http_and_the_private_switch_follow_the_settings() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, environment="test", webhooks={"allow_private_addresses": True}
    )
    context = WebhookContext.build(settings, async_sessionmaker())
    assert context.guard.https_only is False
    assert context.guard.allow_private is True
