"""Customer accounts' standing: suspended while unpaid, active again once paid."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request

from sandboxes.crm.state import CrmState
from sandboxes.crm.wire import CHANNEL
from sandboxes.json_api import JsonObject

ACCOUNT_STATUSES = ("active", "suspended")


async def get_account(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    return 200, state.account(request.path_params["ref"]).wire()


async def set_account_status(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    body = await CHANNEL.body(request, frozenset({"status"}))
    status = body.get("status")
    if status not in ACCOUNT_STATUSES:
        CHANNEL.bad("status")
    account = state.account(request.path_params["ref"])
    if account.status != status:
        account.status = str(status)
        account.status_changed_at = datetime.now(UTC).replace(microsecond=0)
    return 200, account.wire()
