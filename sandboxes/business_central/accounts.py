"""G/L accounts: the demo chart (`CHART_OF_ACCOUNTS`), list and read."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.business_central.api import ApiBase
from sandboxes.business_central.books import CompanyBook
from sandboxes.business_central.odata import (
    CHART_OF_ACCOUNTS,
    BcFault,
    Filterable,
    ODataResponse,
    etag_of,
    select_properties,
)

_ACCOUNT_PROPERTIES: Filterable[str] = {"number": lambda number: number}


def _wire(book: CompanyBook, number: str) -> dict[str, Any]:
    account_id = book.account_id(number)
    return {
        "@odata.etag": etag_of(account_id, 1),
        "id": account_id,
        "number": number,
        "displayName": CHART_OF_ACCOUNTS[number],
        "category": "",
        "subCategory": "",
        "blocked": False,
        "lastModifiedDateTime": "2024-01-01T00:00:00Z",
    }


class AccountsApi(ApiBase):
    """G/L accounts: list (`$filter` on `number`) and read."""

    async def list_accounts(self, request: Request) -> Response:
        book = self._book(request)
        found = select_properties(request, "account", CHART_OF_ACCOUNTS, _ACCOUNT_PROPERTIES)
        return ODataResponse({"value": [_wire(book, number) for number in found]})

    async def get_account(self, request: Request) -> Response:
        book = self._book(request)
        account_id = request.path_params["account_id"].lower()
        number = book.account_number(account_id)
        if number is None:
            raise BcFault(
                404,
                "Internal_RecordNotFound",
                f"The G/L Account does not exist. Identification fields and values: "
                f"Id='{account_id}'",
            )
        return ODataResponse(_wire(book, number))
