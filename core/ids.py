"""Prefixed, time-ordered identifiers (`inv_01j...`): a ULID in lowercase Crockford base32.

Time ordering keeps B-tree inserts local and makes ids usable as keyset cursors.
"""

from __future__ import annotations

import os
import re
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_ULID_LENGTH = 26

PREFIXES = {
    "customer": "cus",
    "subscription": "sub",
    "invoice": "inv",
    "invoice_line": "inl",
    "credit_memo": "cm",
    "credit_memo_line": "cmln",
    "entitlement": "ent",
    "settlement": "stl",
    "partner": "prt",
    "legal_entity": "le",
    "product": "prod",
    "price": "price",
    "accounting_period": "per",
    "tax_code_mapping": "txm",
    "workflow_run": "run",
    "workflow_step": "step",
    "audit_event": "aud",
    "api_client": "cli",
    "signing_key": "key",
    "payment": "pay",
    "commission_line": "cml",
    "reconciliation": "rec",
    "webhook_endpoint": "ep",
    "webhook_message": "msg",
    "webhook_attempt": "atmpt",
    "dunning_case": "dun",
    "posting_batch": "pbt",
    "refund": "rfd",
    "dispute": "dsp",
    "sales_order": "so",
    "sales_order_line": "sol",
    "revenue_schedule": "rvs",
    "revenue_adjustment": "rva",
    "recognition_run": "rvr",
    "operator": "opr",
}


def new_ulid() -> str:
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(_ULID_LENGTH):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return "".join(reversed(chars))


def new_id(kind: str) -> str:
    """A new id for an object of `kind` (a key of `PREFIXES`)."""
    return f"{PREFIXES[kind]}_{new_ulid()}"


def id_pattern(kind: str) -> str:
    """The regular expression a valid id of `kind` matches (for path validation)."""
    return rf"^{re.escape(PREFIXES[kind])}_[0-9a-hjkmnp-tv-z]{{{_ULID_LENGTH}}}$"
