"""The AsyncAPI 3.0 document of the events, generated from the catalog.

One channel per event type on NATS JetStream (`<prefix>.<family>.<action>`, the event id
as `Nats-Msg-Id`) and one channel for webhook deliveries (the Standard Webhooks
headers), each message's payload the CloudEvent envelope with `data` as the type's
schema. `components.schemas` holds the envelope (`CloudEvent`) and each type's `data`
schema under the type's name: what the breaking-change check compares between releases.
"""

from __future__ import annotations

from typing import Any

from events.catalog import CATALOG, action, family
from events.envelope import CloudEvent

ASYNCAPI_VERSION = "3.0.0"
ENVELOPE = "CloudEvent"
WEBHOOK_CHANNEL = "webhook"
TITLE = "Ledgergate events"
DESCRIPTION = (
    "The canonical business events, each a CloudEvents 1.0 JSON envelope whose `data` "
    "follows its type's versioned schema. They are recorded in a transactional outbox "
    "with the state change they report and published at least once: to NATS JetStream "
    "when the gateway is configured with a NATS URL, and to every registered webhook "
    "endpoint whose event-type filter (and, for a partner's endpoint, partner) matches. "
    "Consumers de-duplicate by the event `id`."
)
LICENSE = {"name": "Apache 2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"}

_NATS_HEADERS = {
    "type": "object",
    "required": ["Nats-Msg-Id"],
    "properties": {
        "Nats-Msg-Id": {
            "type": "string",
            "description": "The event id: JetStream drops a message whose id it stored "
            "within the stream's duplicate window.",
        },
        "Content-Type": {"type": "string", "const": "application/json"},
    },
}
_WEBHOOK_HEADERS = {
    "type": "object",
    "required": ["webhook-id", "webhook-timestamp", "webhook-signature"],
    "properties": {
        "webhook-id": {
            "type": "string",
            "description": "The event id, the same on every retry and resend: de-duplicate on it.",
        },
        "webhook-timestamp": {
            "type": "string",
            "pattern": "^[0-9]+$",
            "description": "When the attempt was signed, in Unix seconds.",
        },
        "webhook-signature": {
            "type": "string",
            "description": "`v1,<base64 HMAC-SHA256>` of `id.timestamp.body` with the "
            "endpoint's secret; during a secret rotation two, space-separated.",
        },
        "content-type": {"type": "string", "const": "application/json"},
    },
}


def _name(event_type: str) -> str:
    """`invoice.posted.v1` of `com.ledgergate.invoice.posted.v1`: a channel's key."""
    return event_type.removeprefix("com.ledgergate.")


def _operation_id(verb: str, key: str) -> str:
    return f"{verb}-{key.replace('.', '-').replace('_', '-')}"


def _data_schema(event_type: str) -> dict[str, Any]:
    schema = CATALOG[event_type]
    document = schema.model_json_schema()
    if schema.__doc__:
        document["description"] = " ".join(schema.__doc__.split())
    return document


def _payload(event_type: str) -> dict[str, Any]:
    """The envelope with this type's `type` and `data`."""
    return {
        "allOf": [
            {"$ref": f"#/components/schemas/{ENVELOPE}"},
            {
                "type": "object",
                "properties": {
                    "type": {"const": event_type},
                    "data": {"$ref": f"#/components/schemas/{event_type}"},
                },
            },
        ]
    }


def _message(event_type: str, *, trait: str, suffix: str) -> dict[str, Any]:
    key = _name(event_type)
    return {
        "name": f"{key}{suffix}",
        "title": f"{key} ({trait})",
        "summary": f"The `{event_type}` event.",
        "contentType": "application/json",
        "payload": _payload(event_type),
        "traits": [{"$ref": f"#/components/messageTraits/{trait}"}],
    }


def _channels(prefix: str) -> dict[str, Any]:
    channels: dict[str, Any] = {
        _name(event_type): {
            "address": f"{prefix}.{family(event_type)}.{action(event_type)}",
            "title": _name(event_type),
            "description": f"`{event_type}` on the JetStream stream "
            f"`{prefix.upper()}_{family(event_type).upper()}`.",
            "servers": [{"$ref": "#/servers/nats"}],
            "messages": {"event": {"$ref": f"#/components/messages/{_name(event_type)}"}},
        }
        for event_type in sorted(CATALOG)
    }
    channels[WEBHOOK_CHANNEL] = {
        "address": None,
        "title": "Webhook deliveries",
        "description": "Each event POSTed to every enabled webhook endpoint whose filter "
        "and partner match it; the address is the endpoint's URL.",
        "servers": [{"$ref": "#/servers/webhooks"}],
        "messages": {
            _name(event_type): {"$ref": f"#/components/messages/{_name(event_type)}.webhook"}
            for event_type in sorted(CATALOG)
        },
    }
    return channels


def _operations() -> dict[str, Any]:
    operations: dict[str, Any] = {
        _operation_id("publish", _name(event_type)): {
            "action": "send",
            "title": f"Publish {_name(event_type)}",
            "summary": f"The relay publishes `{event_type}` to JetStream.",
            "description": "At least once, in commit order per subject.",
            "channel": {"$ref": f"#/channels/{_name(event_type)}"},
            "messages": [{"$ref": f"#/channels/{_name(event_type)}/messages/event"}],
        }
        for event_type in sorted(CATALOG)
    }
    operations["deliver-webhook"] = {
        "action": "send",
        "title": "Deliver to a webhook endpoint",
        "summary": "A signed POST of one event to a registered endpoint.",
        "description": "At least once, retried with backoff over about a day; a 2xx "
        "answer is delivered.",
        "channel": {"$ref": f"#/channels/{WEBHOOK_CHANNEL}"},
        "messages": [
            {"$ref": f"#/channels/{WEBHOOK_CHANNEL}/messages/{_name(event_type)}"}
            for event_type in sorted(CATALOG)
        ],
    }
    return operations


def _components() -> dict[str, Any]:
    messages: dict[str, Any] = {}
    for event_type in sorted(CATALOG):
        messages[_name(event_type)] = _message(event_type, trait="nats", suffix="")
        messages[f"{_name(event_type)}.webhook"] = _message(
            event_type, trait="webhook", suffix=".webhook"
        )
    return {
        "schemas": {
            ENVELOPE: CloudEvent.model_json_schema(),
            **{event_type: _data_schema(event_type) for event_type in sorted(CATALOG)},
        },
        "messages": messages,
        "messageTraits": {
            "nats": {"headers": _NATS_HEADERS},
            "webhook": {"headers": _WEBHOOK_HEADERS},
        },
    }


def asyncapi_document(
    *, version: str, contact: dict[str, Any], prefix: str = "ledgergate"
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every catalog type, released as `version`."""
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": TITLE,
            "version": version,
            "description": DESCRIPTION,
            "contact": contact,
            "license": LICENSE,
            "tags": [{"name": "events", "description": "Canonical business events (CloudEvents)."}],
        },
        "defaultContentType": "application/json",
        "servers": {
            "nats": {
                "host": "localhost:4222",
                "protocol": "nats",
                "description": "NATS JetStream (`LEDGERGATE_EVENTS__NATS_URL`); one stream "
                "per event family.",
            },
            "webhooks": {
                "host": "{endpoint_host}",
                "protocol": "https",
                "description": "A registered webhook endpoint (its own URL).",
                "variables": {"endpoint_host": {"description": "The host of the endpoint's URL."}},
            },
        },
        "channels": _channels(prefix),
        "operations": _operations(),
        "components": _components(),
    }
