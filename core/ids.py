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


def pairs_of(alphabet: str) -> tuple[str, ...]:
    """Every pair of characters of a base32 `alphabet`, indexed by the 10 bits they spell."""
    return tuple(high + low for high in alphabet for low in alphabet)


# A ULID's 26 characters are 13 pairs, read off its 128 bits (the first pair's two leading
# bits always 0).
_PAIRS = pairs_of(_ALPHABET)


def encode_ulid(value: int, pairs: tuple[str, ...] = _PAIRS) -> str:
    """The 26 characters of a 128-bit ULID, most significant first (of any value below
    2**130, in the alphabet of `pairs`: Crockford's unless given). Unrolled, so an id costs
    one `join` rather than a `divmod` and an `append` for each character."""
    return "".join(
        (
            pairs[value >> 120],
            pairs[value >> 110 & 1023],
            pairs[value >> 100 & 1023],
            pairs[value >> 90 & 1023],
            pairs[value >> 80 & 1023],
            pairs[value >> 70 & 1023],
            pairs[value >> 60 & 1023],
            pairs[value >> 50 & 1023],
            pairs[value >> 40 & 1023],
            pairs[value >> 30 & 1023],
            pairs[value >> 20 & 1023],
            pairs[value >> 10 & 1023],
            pairs[value & 1023],
        )
    )


def new_id(kind: str) -> str:
    """A new id for an object of `kind` (a key of `PREFIXES`): its ULID is 48 bits of Unix
    milliseconds, then 80 random bits (made here, not in a function of its own: a call less
    for each of the half dozen ids a posting mints)."""
    ulid = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    return f"{PREFIXES[kind]}_{encode_ulid(ulid)}"


def id_pattern(kind: str) -> str:
    """The regular expression a valid id of `kind` matches (for path validation)."""
    return rf"^{re.escape(PREFIXES[kind])}_[0-9a-hjkmnp-tv-z]{{{_ULID_LENGTH}}}$"
