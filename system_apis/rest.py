"""What every system REST router shares: problem statuses, vendor id paths, Idempotency-Key."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Depends, Header, Path, Request

from core.auth import principal_of

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


async def namespaced_idempotency_key(
    request: Request,
    key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description="Unique per intended write and client; the backend deduplicates on it.",
        ),
    ],
) -> str:
    """The caller's key, namespaced by its API client before it leaves the gateway.

    Backends deduplicate on the key alone, so two clients using the same key would get
    each other's replay; and the process tier's own keys share the backend too. A digest
    keeps the namespaced key within every vendor's length limit.
    """
    client_id = principal_of(request).client_id
    return "lgk_" + hashlib.sha256(f"{client_id}\x00{key}".encode()).hexdigest()


IdempotencyKey = Annotated[str, Depends(namespaced_idempotency_key)]
