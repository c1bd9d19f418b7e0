"""The catalog: one closed, versioned schema per event type, named as the envelope requires."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from pydantic import ValidationError

from events.catalog import CATALOG, SCHEMAS, action, family
from events.envelope import CloudEvent
from events.nats import NatsSink
from events.schemas.reconciliation import ReconciliationCompleted
from tests.support.events import opened

REQUIRED = {
    "customer": {"created", "updated"},
    "subscription": {"created", "amended", "canceled"},
    "invoice": {"registered", "posted", "posting_failed", "voided"},
    "credit_memo": {"requested", "approved", "posted"},
    "payment": {"applied", "failed", "reversed"},
    "commission": {"earned", "clawed_back"},
    "settlement": {"posted", "reversed"},
    "revenue": {"recognized", "recognition_reversed"},
    "entitlement": {"granted", "revoked"},
    "exception": {"opened", "resolved"},
    "reconciliation": {"completed"},
    "webhook_endpoint": {"disabled"},
    "usage": {"cap_exceeded", "reported"},
    "dunning": {"opened", "closed"},
    "account": {"suspended", "reactivated"},
    "refund": {"booked"},
    "dispute": {"opened", "won", "lost"},
    "order": {"created", "held", "rejected", "status_changed"},
}


def test_every_required_type_has_one_schema() -> None:
    assert len(CATALOG) == len(SCHEMAS)
    found: dict[str, set[str]] = {}
    for event_type in CATALOG:
        assert re.fullmatch(r"com\.ledgergate\.[a-z_]+\.[a-z_]+\.v1", event_type)
        found.setdefault(family(event_type), set()).add(action(event_type))
    assert found == REQUIRED


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda schema: schema.event_type)
def test_each_schema_is_closed_and_publishable(schema: type) -> None:
    document = schema.model_json_schema()  # what an AsyncAPI document will carry
    assert document["type"] == "object"
    assert document["additionalProperties"] is False
    assert "event_type" not in document["properties"]
    assert all("number" != p.get("type") for p in document["properties"].values())  # no floats


def test_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError):
        ReconciliationCompleted.model_validate(
            {
                "run_id": "rec_1",
                "legal_entity_id": "le_1",
                "period": "2026-11",
                "trigger": "api",
                "clean": True,
                "difference_count": 0,
                "amount": 1.5,
            }
        )


def test_the_same_fact_is_the_same_id_and_another_fact_another() -> None:
    assert opened("inv_1", 1).id == opened("inv_1", 1).id
    assert opened("inv_1", 1).id != opened("inv_1", 2).id
    event = opened("inv_1", 1)
    assert CloudEvent.model_validate_json(event.model_dump_json()) == event


def test_nats_subjects_and_streams_follow_the_family() -> None:
    sink = NatsSink("nats://127.0.0.1:4222", prefix="acme_lg", duplicate_window=timedelta(0))
    assert sink.subject("com.ledgergate.credit_memo.posted.v1") == "acme_lg.credit_memo.posted"
    assert sink.stream_name("credit_memo") == "ACME_LG_CREDIT_MEMO"
