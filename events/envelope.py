"""The CloudEvents 1.0 envelope every canonical event travels in.

An event's id is derived from the fact it reports (`event_id`), never drawn at random,
so a workflow step that runs again after a crash records the same event, not a second one.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from core.ids import encode_ulid, pairs_of

SOURCE = "urn:ledgergate"
"""The `source` of every event the gateway emits."""

_BASE32_PAIRS = pairs_of("abcdefghijklmnopqrstuvwxyz234567")  # RFC 4648's, lower case


class CloudEvent(BaseModel):
    """One canonical event: CloudEvents 1.0 attributes plus two extensions.

    `correlationid` ties the event to the request or run that caused it; `partnerid`
    names the partner the event concerns, so a partner's subscribers receive only theirs.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(pattern=r"^evt_[a-z2-7]{26}$", examples=["evt_5kq2c6w3yqz7jv4f2u6m2b3o5e"])
    source: str = SOURCE
    type: str = Field(
        pattern=r"^com\.ledgergate\.[a-z_]+(\.[a-z_]+)+\.v[0-9]+$",
        examples=["com.ledgergate.invoice.posted.v1"],
    )
    subject: str = Field(min_length=1, max_length=120, description="The id of the object.")
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    correlationid: str | None = None
    partnerid: str | None = None


def event_id(event_type: str, *fact: str) -> str:
    """The deterministic id of the event of `event_type` reporting `fact` (e.g. run, step).

    The same type and fact always give the same id; 130 bits of SHA-256 keep distinct
    facts apart.
    """
    digest = hashlib.sha256("\x1f".join((event_type, *fact)).encode()).digest()
    # Its first 130 bits in lowercase RFC 4648 base32: the first 26 characters
    # `base64.b32encode` spells of its first 20 bytes.
    return "evt_" + encode_ulid(int.from_bytes(digest[:17], "big") >> 6, _BASE32_PAIRS)


def new_event(
    event_type: str,
    *,
    fact: tuple[str, ...],
    subject: str,
    data: dict[str, Any],
    time: datetime,
    correlation_id: str | None = None,
    partner_id: str | None = None,
) -> CloudEvent:
    """Build the envelope of one event, its id derived from `event_type` and `fact`."""
    return CloudEvent(
        id=event_id(event_type, *fact),
        type=event_type,
        subject=subject,
        time=time,
        data=data,
        correlationid=correlation_id,
        partnerid=partner_id,
    )
