"""The webhook routes' request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from core.models.webhook_endpoint import EndpointStatus
from core.models.webhook_message import MessageStatus

EventType = Annotated[
    str,
    Field(
        max_length=120,
        pattern=r"^com\.ledgergate\.[a-z_]+(\.[a-z_]+)+\.v[0-9]+$",
        examples=["com.ledgergate.invoice.posted.v1"],
    ),
]
EventTypes = Annotated[
    list[EventType],
    Field(
        max_length=100,
        description="The CloudEvents types the endpoint receives; empty receives every type.",
    ),
]


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=2048,
        description="Where deliveries are POSTed: https, on a public address.",
        examples=["https://hooks.example.com/ledgergate"],
    )
    description: str = Field(default="", max_length=500)
    event_types: EventTypes = Field(default_factory=list)


class WebhookEndpointUpdate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str | None = Field(default=None, max_length=500)
    event_types: EventTypes | None = None
    disabled: bool | None = Field(
        default=None,
        description="`true` stops deliveries; `false` enables the endpoint again and "
        "resumes its pending messages.",
    )


class WebhookEndpoint(BaseModel):
    id: str
    url: str
    description: str
    event_types: list[str]
    status: EndpointStatus
    disabled_reason: str | None = Field(
        description="`by_client`, `by_operator`, `failing` (past the failure threshold), "
        "`gone` (the endpoint answered 410) or `deleted`."
    )
    disabled_at: datetime | None
    partner_id: str | None
    consecutive_failures: int
    previous_secret_expires_at: datetime | None = Field(
        description="Until then deliveries are signed with the previous secret as well."
    )
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpoint):
    secret: str = Field(
        description="The signing secret (`whsec_` + base64): shown this once.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookSecretRotated(BaseModel):
    secret: str = Field(description="The new signing secret: shown this once.")
    previous_secret_expires_at: datetime = Field(
        description="Until then deliveries carry a signature with the previous secret too."
    )


class WebhookMessage(BaseModel):
    id: str
    endpoint_id: str
    event_id: str = Field(description="The CloudEvent's id, sent as `webhook-id`.")
    event_type: str
    event_time: datetime
    status: MessageStatus
    attempts: int = Field(description="Attempts in the current schedule.")
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class WebhookAttempt(BaseModel):
    id: str
    message_id: str
    attempted_at: datetime
    outcome: str = Field(description="`delivered`, `failed`, `gone` or `refused`.")
    status_code: int | None
    duration_ms: int
    response_excerpt: str | None = Field(description="The first 1 KiB of the answer.")
    error: str | None


class WebhookRecover(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    since: AwareDatetime = Field(description="Resend every message made at or after this.")


class WebhookRecovered(BaseModel):
    resent: int = Field(description="How many messages are due again.")
