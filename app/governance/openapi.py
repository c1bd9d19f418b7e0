"""The served OpenAPI document: truthful about errors, security, examples and links.

FastAPI documents validation failures as its own `HTTPValidationError`; the gateway
answers them (and every other error) with RFC 9457 problem+json. This rewrites each
operation's error responses to the `Problem` schema and adds the ones the edge may
give to any operation: 422 for bad parameters, and 400/413/415 where a body is taken.

It also states what the routes leave implicit, so that the contracts in `openapi/`
(split from this one document by `app.governance.contracts`) read well on their own:

- `security: []` on the public operations (no bearer token), next to the OAuth2
  requirement `requires(...)` declares on every other one;
- the global tag list with a description per tag, contact, licence and server;
- an example for every request body and every response, taken from the schema's own
  examples and defaults where it has them and otherwise made up from its types,
  formats and patterns (`example_of`), so that a new route needs no hand-written one;
- OpenAPI links from the operations that create or list a resource to those that
  take its id, which drive schemathesis's stateful phase.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from core.errors import problem_type
from core.ids import PREFIXES
from core.problems import PROBLEM_MEDIA_TYPE, Problem, problem_responses

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")

CONTACT = {
    "name": "Ledgergate maintainers",
    "url": "https://ledgergate.dev",
    "email": "maintainers@ledgergate.dev",
}
LICENSE = {"name": "Apache 2.0", "identifier": "Apache-2.0"}

TAG_DESCRIPTIONS = {
    "auth": "OAuth2 client credentials: access tokens and the keys that verify them.",
    "credit-memos": "Support credits turned into credit memos: approval, billing and ERP.",
    "customers": "Canonical customers, kept in step with billing and the ERP.",
    "health": "Liveness, readiness and Prometheus metrics for the platform.",
    "invoices": "Invoices and their posting to the ERP (the invoice → ERP workflow).",
    "entitlements": "What customers may use, granted by their subscriptions.",
    "legal-entities": "Legal entities, their currencies and accounting periods.",
    "ops": "Finance operations: audit trail, exception queue, replay and reconciliation.",
    "ops-reference-data": "Finance operations: legal entities, accounting periods, tax codes, "
    "partners and rate cards, products and prices, versioned with `ETag`/`If-Match`.",
    "partner": "Partner portal: a partner's own customers, subscriptions, invoices and "
    "payments, commissions with lineage, statements and deal registrations.",
    "orders": "Sales orders from accepted quotes: the ERP credit check, the ERP sales order, "
    "its status, and the hand-over to subscriptions when the service starts.",
    "payments": "Payments applied to invoices in the ERP, and the commissions they earn.",
    "revenue": "Revenue schedules of posted invoice lines: what each line earns by month.",
    "posting-batches": "Many invoices posted to the ERP as bulk work, each with its own run "
    "and outcome.",
    "runs": "Workflow runs: every step, its outcome and its error class.",
    "settlements": "Partner settlement statements per period, journaled in the ERP, with lineage.",
    "subscriptions": "Orders, mid-cycle amendments with proration, and cancellations.",
    "usage": "Metered usage events in batches: de-duplicated per client, validated against "
    "the subscription's metered prices, counted in their billing period.",
    "system-billing": "Canonical billing system API over the billing engine.",
    "system-crm": "Canonical CRM system API: partners, commission plans, deal registrations.",
    "system-erp": "Canonical ERP system API over the cloud ERP.",
    "system-support": "Canonical support system API: entitlements, cases, service credits.",
    "versions": "The URL major versions and their lifecycle.",
    "webhook-endpoints": "Outbound webhooks (Standard Webhooks): the caller's endpoints, their "
    "messages and delivery attempts, secret rotation, resend and recover.",
    "webhooks": "Signed event deliveries from the backends (not OAuth2).",
}

# A create or a list answers with an id that other operations of the same document
# take: (operation id, status) -> links. The parameter values are runtime expressions.
LINKS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("orders-create", "201"): {
        "GetOrder": {
            "operationId": "orders-get",
            "parameters": {"order_id": "$response.body#/order/id"},
            "description": "The sales order just placed.",
        }
    },
    ("customers-create", "201"): {
        "GetCustomer": {
            "operationId": "customers-get",
            "parameters": {"customer_id": "$response.body#/id"},
            "description": "The customer just registered.",
        }
    },
    ("invoices-create", "201"): {
        "GetInvoice": {
            "operationId": "invoices-get",
            "parameters": {"invoice_id": "$response.body#/id"},
            "description": "The invoice just registered.",
        },
        "PostInvoice": {
            "operationId": "invoices-post",
            "parameters": {"invoice_id": "$response.body#/id"},
            "description": "Post the invoice just registered to the ERP.",
        },
    },
    **{
        ("invoices-post", status): {
            "GetRun": {
                "operationId": "runs-get",
                "parameters": {"run_id": "$response.body#/run_id"},
                "description": "The posting run, step by step.",
            },
            "GetPostedInvoice": {
                "operationId": "invoices-get",
                "parameters": {"invoice_id": "$response.body#/invoice_id"},
                "description": "The invoice with its posting status.",
            },
        }
        for status in ("200", "201", "202")
    },
    ("invoices-v2-create", "201"): {
        "GetInvoice": {
            "operationId": "invoices-v2-get",
            "parameters": {"invoice_id": "$response.body#/id"},
            "description": "The invoice just registered.",
        },
        "PostInvoice": {
            "operationId": "invoices-v2-post",
            "parameters": {"invoice_id": "$response.body#/id"},
            "description": "Post the invoice just registered to the ERP.",
        },
    },
    ("legal-entities-list", "200"): {
        "GetLegalEntity": {
            "operationId": "legal-entities-get",
            "parameters": {"legal_entity_id": "$response.body#/0/id"},
            "description": "The first legal entity of the list.",
        }
    },
    ("partner-customers-list", "200"): {
        "GetCustomer": {
            "operationId": "partner-customers-get",
            "parameters": {"customer_id": "$response.body#/items/0/id"},
            "description": "The first customer of the page.",
        }
    },
    ("partner-invoices-list", "200"): {
        "GetInvoice": {
            "operationId": "partner-invoices-get",
            "parameters": {"invoice_id": "$response.body#/items/0/id"},
            "description": "The first invoice of the page.",
        }
    },
    **{
        (f"partner-{resource}-list", "200"): {
            link: {
                "operationId": f"partner-{resource}-get",
                "parameters": {parameter: f"$response.body#/items/0/{field}"},
                "description": f"The first {noun} of the page.",
            }
        }
        for resource, link, parameter, field, noun in (
            ("subscriptions", "GetSubscription", "subscription_id", "id", "subscription"),
            ("commission-lines", "GetCommissionLine", "commission_line_id", "id", "line"),
            ("statements", "GetStatement", "period", "period", "statement"),
            ("deal-registrations", "GetDealRegistration", "registration_id", "id", "registration"),
        )
    },
}

# Examples the schemas cannot give: bodies that are not JSON objects of a model.
OPERATION_EXAMPLES: dict[tuple[str, str], Any] = {
    ("health-metrics", "200"): (
        "# HELP ledgergate_http_requests_total HTTP requests by route, method and status.\n"
        "# TYPE ledgergate_http_requests_total counter\n"
        'ledgergate_http_requests_total{route="/v1/invoices",method="POST",status="201",'
        'client="demo-platform"} 3.0\n'
    ),
    ("auth-jwks", "200"): {
        "keys": [
            {
                "kty": "EC",
                "crv": "P-256",
                "kid": "k-2026-11-25",
                "use": "sig",
                "alg": "ES256",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            }
        ]
    },
    **{
        ("health-ready", status): {
            "status": state,
            "checks": {"database": database, "erp": "ok", "billing": "ok"},
            "circuits": {"erp": "closed", "billing": "closed"},
        }
        for status, state, database in (("200", "ready", "ok"), ("503", "unready", "OSError"))
    },
    ("auth-token", "request"): {
        "grant_type": "client_credentials",
        "scope": "invoices:read invoices:write",
    },
}

# Values for properties whose schema alone makes a poor example; used when they fit it.
# Ids (`id`, `<kind>_id`) are made from `core.ids.PREFIXES` instead.
PROPERTY_EXAMPLES: dict[str, Any] = {
    "amount": 14700,
    "access_token": "eyJhbGciOiJFUzI1NiIsImtpZCI6ImstMjAyNi0xMS0yNSJ9.eyJzdWIiOiJkZW1vIn0.c2ln",
    "action": "POST /v1/invoices/{invoice_id}/postings",
    "backend_ref": "5b9e2c1a-7f3d-4e8b-a0c6-2d4f8e1b3a90",
    "billing": "cus_QbX3d8Example",
    "client_id": "demo-platform",
    "code": "LG-US",
    "correlation_id": "tour-42",
    "country": "US",
    "crm": "acct-1042",
    "currency": "USD",
    "description": "Ledgergate Pro, monthly",
    "downstream_key": "C00010",
    "email": "billing@acme-robotics.example",
    "erp": "C00010",
    "erp_company_id": "2f1c8a52-5a5e-4c1e-9d0a-6b8e1e3c9a10",
    "erp_document_id": "8d3f6a1e-2b4c-4d9e-9f0a-1c2b3d4e5f60",
    "erp_document_number": "PSI-000123",
    "erp_number": "C00010",
    "error_detail": "the ERP answered 503 three times within the retry budget",
    "error_type": "backend-unavailable",
    "functional_currency": "USD",
    "method": "POST",
    "name": "Acme Robotics",
    "next_cursor": "aud_01jd0000000000000000000000",
    "number": "PSI-000123",
    "operation_id": "invoices-post",
    "outcome": "succeeded",
    "path": "/v1/invoices/{invoice_id}/postings",
    "request_digest": "9f2c4e1d8b7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6",
    "request_hash": "9f2c4e1d8b7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6",
    "run_url": "/v1/runs/run_00000000000000000000000001",
    "scope": "invoices:read invoices:write",
    "source_ip": "203.0.113.7",
    "quantity": 3,
    "subject_id": "inv_00000000000000000000000001",
    "subtotal": 14700,
    "successor": "v2",
    "tax_amount": 1305,
    "tax_total": 1305,
    "total": 16005,
    "unit_amount": 4900,
    "tax_code": "STANDARD",
    "url": "/v1/runs/run_00000000000000000000000001",
    "workflow": "invoice_posting",
}
# Id kinds named differently in properties and schemas than in `PREFIXES`.
ID_KIND_ALIASES = {"run": "workflow_run", "step": "workflow_step", "period": "accounting_period"}

EXAMPLE_DATE = "2026-11-25"
EXAMPLE_DATETIME = "2026-11-25T09:30:00Z"

# The problem each error status most often carries, for the examples of error responses.
_PROBLEM_EXAMPLES: dict[int, tuple[str, str, str]] = {
    400: ("malformed-json", "Malformed JSON", "the body is not valid JSON"),
    401: ("unauthorized", "Unauthorized", "send a valid bearer token"),
    403: ("forbidden", "Forbidden", "the token lacks the scope invoices:write"),
    404: ("not-found", "Not found", "no invoice inv_00000000000000000000000009"),
    409: ("conflict", "Conflict", "another request is posting this invoice"),
    413: ("payload-too-large", "Payload too large", "the body exceeds 1048576 bytes"),
    415: ("unsupported-media-type", "Unsupported media type", "send application/json"),
    422: ("validation-error", "Validation failed", "1 field is invalid"),
    429: ("rate-limited", "Too many requests", "retry after 12 seconds"),
    500: ("internal-error", "Internal error", "quote the correlation id to support"),
    502: (
        "backend-contract-violation",
        "Backend contract violation",
        "the ERP answered outside its API",
    ),
    503: ("backend-unavailable", "Backend unavailable", "the ERP is unavailable"),
    504: ("backend-timeout", "Backend timeout", "the ERP did not answer in time"),
}


def _problem_schemas() -> dict[str, Any]:
    _, definitions = models_json_schema(
        [(Problem, "serialization")], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = definitions["$defs"]
    return schemas


def _edge_statuses(operation: dict[str, Any]) -> tuple[int, ...]:
    """What the edge may answer to any operation: admission control and a database outage
    are 503 everywhere."""
    statuses = [422, 503]
    if "requestBody" in operation:
        statuses += [400, 413, 415]
    return tuple(statuses)


def problem_example(status: int, path: str) -> dict[str, Any]:
    """A problem document as the gateway would answer it with `status` at `path`."""
    slug, title, detail = _PROBLEM_EXAMPLES.get(status, ("internal-error", "Error", "error"))
    return {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": path,
        "correlation_id": PROPERTY_EXAMPLES["correlation_id"],
    }


def _fits(value: Any, schema: Mapping[str, Any]) -> bool:
    """Whether a scalar example satisfies the schema's type, enum, pattern and lengths."""
    kind = schema.get("type")
    if "enum" in schema and value not in schema["enum"]:
        return False
    if kind == "string" or isinstance(value, str):
        if not isinstance(value, str) or kind not in (None, "string"):
            return False
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 1e9):
            return False
        return "pattern" not in schema or re.search(schema["pattern"], value) is not None
    if isinstance(value, int) and not isinstance(value, bool):
        if kind not in (None, "integer", "number"):
            return False
        low = schema.get("minimum", schema.get("exclusiveMinimum", value - 1) + 1)
        high = schema.get("maximum", schema.get("exclusiveMaximum", value + 1) - 1)
        return bool(low <= value <= high)
    return True


def _id_example(kind: str) -> str | None:
    kind = ID_KIND_ALIASES.get(kind, kind)
    return f"{PREFIXES[kind]}_{'1'.zfill(26)}" if kind in PREFIXES else None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _owner_kind(owner: str) -> str:
    """The id kind of a schema: `InvoiceResource` -> `invoice`, `LegalEntity` -> `legal_entity`."""
    snake = _snake(owner)
    kinds = [k for k in (*PREFIXES, *ID_KIND_ALIASES) if snake == k or snake.startswith(k + "_")]
    return max(kinds, key=len) if kinds else ""


def _string_example(schema: Mapping[str, Any], name: str, owner: str) -> str:
    hinted = PROPERTY_EXAMPLES.get(name)
    if name == "id":
        hinted = _id_example(_owner_kind(owner))
    elif name.endswith("_id") and hinted is None:
        hinted = _id_example(name.removesuffix("_id"))
    if isinstance(hinted, str) and _fits(hinted, schema):
        return hinted
    formats = {"date": EXAMPLE_DATE, "date-time": EXAMPLE_DATETIME, "email": "ops@example.com"}
    if schema.get("format") in formats:
        return formats[schema["format"]]
    candidates = []
    if prefixed := re.fullmatch(r"\^([a-z]+)_\[[^\]]+\]\{(\d+)\}\$", schema.get("pattern", "")):
        prefix, length = prefixed.group(1), int(prefixed.group(2))
        candidates.append(f"{prefix}_{'1'.zfill(length)}")
    candidates += [name.replace("_", " ") or "example", "example", "USD", "STANDARD"]
    candidates.append("x" * max(1, int(schema.get("minLength", 1))))
    for candidate in candidates:
        if _fits(candidate, schema):
            return candidate
    raise ValueError(f"no example fits {name or 'a string'} {schema}: add one to PROPERTY_EXAMPLES")


def _number_example(schema: Mapping[str, Any]) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
    high = schema.get("maximum", schema.get("exclusiveMaximum", 10**9 + 1) - 1)
    value = min(max(low, 1), high)
    return value if schema.get("type") == "integer" else float(value)


def example_of(
    schema: Mapping[str, Any],
    schemas: Mapping[str, Any],
    name: str = "",
    depth: int = 0,
    owner: str = "",
) -> Any:
    """A deterministic example of `schema`, `$ref`s resolved against `schemas`.

    The schema's own `examples`, `const`, non-null `default` and first enum value win;
    otherwise the example is built from its type, format, pattern and bounds, with
    `PROPERTY_EXAMPLES` for the properties whose name says more than their schema.
    """
    if "$ref" in schema:
        target = schema["$ref"].rsplit("/", 1)[-1]
        return example_of(schemas[target], schemas, name, depth, target)
    if schema.get("examples"):
        return schema["examples"][0]
    for key in ("example", "const"):
        if key in schema:
            return schema[key]
    if schema.get("default") is not None:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_of(branches[0], schemas, name, depth, owner)
    if "allOf" in schema:
        return example_of(schema["allOf"][0], schemas, name, depth, owner)
    kind = schema.get("type", "object" if "properties" in schema else None)
    if kind == "object":
        if depth > 8:
            return {}
        properties = schema.get("properties", {})
        if properties:
            return {
                key: example_of(value, schemas, key, depth + 1, owner)
                for key, value in properties.items()
            }
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return {"example": example_of(extra, schemas, "", depth + 1, owner)}
        return {}
    if kind == "array":
        item = example_of(schema.get("items", {}), schemas, name, depth + 1, owner)
        return [item] * max(1, int(schema.get("minItems", 1)))
    if kind == "string":
        return _string_example(schema, name, owner)
    if kind in ("integer", "number"):
        hinted = PROPERTY_EXAMPLES.get(name)
        return (
            hinted if isinstance(hinted, int) and _fits(hinted, schema) else _number_example(schema)
        )
    if kind == "boolean":
        return False
    return None


def _with_example(media: dict[str, Any], example: Any) -> None:
    if "example" not in media and "examples" not in media:
        media["example"] = example


# What a query parameter is for, where its route does not say; a path id says it itself.
PARAMETER_DESCRIPTIONS = {
    "status": "Only objects in this status.",
    "customer_id": "Only this customer's.",
    "partner_id": "Only this partner's.",
    "workflow": "Only runs of this workflow.",
    "period": "The accounting period, `YYYY-MM`.",
    "client_id": "Only requests of this API client.",
    "action": "Only entries of this action.",
    "object_id": "Only entries about this object.",
    "outcome": "Only entries with this outcome.",
    "error_class": "Only runs failed with this class of error (`business` or `technical`).",
    "legal_entity": "Only this legal entity's.",
    "limit": "Items per page.",
    "cursor": "Where the page starts: `next_cursor` of the page before.",
    "product_tier": "The product tier to check.",
    "external_document_number": "The document number the ERP document was posted under.",
    "case_id": "The support case.",
}


def _describe_parameters(operation: dict[str, Any]) -> None:
    """Every parameter gets a description: its route's, or the shared one for its name."""
    for parameter in operation.get("parameters", []):
        if parameter.get("description"):
            continue
        name = parameter["name"]
        if parameter["in"] == "path" and name.endswith("_id"):
            parameter["description"] = f"The {name[:-3].replace('_', ' ')}'s id."
        elif name in PARAMETER_DESCRIPTIONS:
            parameter["description"] = PARAMETER_DESCRIPTIONS[name]


def _document_operation(path: str, operation: dict[str, Any], schemas: Mapping[str, Any]) -> None:
    operation_id = operation.get("operationId", "")
    operation.setdefault("security", [])  # public: no bearer token
    _describe_parameters(operation)
    responses = operation.setdefault("responses", {})
    for status, response in problem_responses(*_edge_statuses(operation)).items():
        existing = responses.get(str(status))
        # An operation's own answer stands (`/readyz` reports its checks with a 503); only
        # FastAPI's generated validation error gives way to the problem the edge sends.
        if existing is None or (
            status == 422 and PROBLEM_MEDIA_TYPE not in existing.get("content", {})
        ):
            responses[str(status)] = response
    body = operation.get("requestBody", {}).get("content", {})
    for media in body.values():
        curated = OPERATION_EXAMPLES.get((operation_id, "request"))
        _with_example(media, curated or example_of(media.get("schema", {}), schemas))
    for status, response in responses.items():
        for media_type, media in response.get("content", {}).items():
            if media_type == PROBLEM_MEDIA_TYPE:
                _with_example(media, problem_example(int(status), path))
            elif (operation_id, status) in OPERATION_EXAMPLES:
                _with_example(media, OPERATION_EXAMPLES[(operation_id, status)])
            else:
                _with_example(media, example_of(media.get("schema", {}), schemas))
        if (operation_id, status) in LINKS:
            response["links"] = LINKS[(operation_id, status)]


def operations(document: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) for every operation of an OpenAPI document."""
    return [
        (path, method, operation)
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


SCHEMA_REF = re.compile(r"^#/components/schemas/(.+)$")


def schema_refs(node: Any) -> Iterator[str]:
    """The names of the component schemas `node` references, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and (match := SCHEMA_REF.match(value)):
                yield match.group(1)
            else:
                yield from schema_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from schema_refs(item)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        contact=CONTACT,
        license_info=LICENSE,
        servers=[{"url": "/", "description": "This gateway"}],
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in FASTAPI_VALIDATION_SCHEMAS:
        components.pop(name, None)
    components.update(_problem_schemas())
    tags: set[str] = set()
    for path, _, operation in operations(schema):
        _document_operation(path, operation, components)
        tags.update(operation.get("tags", []))
    schema["tags"] = [
        {"name": tag} | ({"description": TAG_DESCRIPTIONS[tag]} if tag in TAG_DESCRIPTIONS else {})
        for tag in sorted(tags)
    ]
    return schema


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
