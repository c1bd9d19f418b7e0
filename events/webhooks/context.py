"""What the webhook routes and commands share: sessions, settings, secrets, the guard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.key_encryption import KeyEncryption
from core.models.base import utcnow
from core.settings import Settings, WebhookSettings
from events.webhooks.guard import Resolver, UrlGuard, system_resolver


@dataclass(frozen=True)
class WebhookContext:
    """Set on `app.state.webhooks` by `create_app`; one per application."""

    sessionmaker: async_sessionmaker[AsyncSession]
    settings: WebhookSettings
    encryption: KeyEncryption
    guard: UrlGuard
    clock: Callable[[], datetime] = utcnow

    @classmethod
    def build(
        cls,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        resolver: Resolver = system_resolver,
    ) -> WebhookContext:
        """The context `settings` describe: https only in production."""
        guard = UrlGuard(
            https_only=settings.environment == "production",
            allow_private=settings.webhooks.allow_private_addresses,
            resolver=resolver,
        )
        return cls(
            sessionmaker=sessionmaker,
            settings=settings.webhooks,
            encryption=KeyEncryption.from_settings(settings.auth),
            guard=guard,
        )


def get_webhooks(request: Request) -> WebhookContext:
    context: WebhookContext = request.app.state.webhooks
    return context


WebhooksDep = Annotated[WebhookContext, Depends(get_webhooks)]
