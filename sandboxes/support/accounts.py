"""A customer's account status at the desk: suspended (no premium queue) or active."""

from __future__ import annotations

from starlette.requests import Request

from sandboxes.json_api import JsonObject
from sandboxes.support.state import DeskState
from sandboxes.support.wire import DESK, read_choice

ACCOUNT_STATUSES = ("active", "suspended")


async def set_account_status(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    status = read_choice(
        await DESK.body(request, frozenset({"status"})), "status", ACCOUNT_STATUSES
    )
    account = state.account(request.path_params["ref"])
    if account.status != status:
        account.status = status
        account.status_changed_at = state.clock()
    return 200, account.wire()


async def get_account(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    return 200, state.account(request.path_params["ref"]).wire()
