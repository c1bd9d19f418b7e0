"""What every system REST router shares: problem statuses, vendor id paths, Idempotency-Key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path

BACKEND_PROBLEMS = (401, 403, 404, 422, 502, 503, 504)
WRITE_PROBLEMS = (400, 413, 415, *BACKEND_PROBLEMS)

VENDOR_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"

VendorID = Annotated[
    str,
    Path(
        pattern=VENDOR_ID_PATTERN,
        description="The backend's own id of the object.",
    ),
]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Unique per intended write; passed to the backend, which deduplicates on it.",
    ),
]
