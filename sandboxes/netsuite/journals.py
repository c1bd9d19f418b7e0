"""G/L accounts, and journal entries: created balanced, posted once approved."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.business_central.odata import round_amount
from sandboxes.netsuite.api import ApiBase
from sandboxes.netsuite.records import (
    RECEIVABLE,
    CustomerRecord,
    JournalEntryRecord,
    JournalLine,
)
from sandboxes.netsuite.wire import (
    CURRENCIES,
    NsFault,
    NsResponse,
    created,
    date_value,
    invalid_ref,
    links_of,
    meets,
    number_value,
    query_conditions,
    read_body,
    ref_id,
    ref_of,
    text_value,
)

_ENTRY_FIELDS = frozenset(
    {"externalId", "tranId", "subsidiary", "currency", "tranDate", "memo", "approved", "line"}
)
_LINE_FIELDS = frozenset({"account", "debit", "credit", "memo", "entity"})


class JournalsApi(ApiBase):
    """Accounts (list by `acctNumber`, read) and journal entries (create, list, read, approve)."""

    async def list_accounts(self, request: Request) -> Response:
        conditions = query_conditions(request, frozenset({"acctNumber"}))
        ids = [
            account.id
            for account in self.state.accounts.values()
            if meets(conditions, {"acctNumber": account.acct_number})
        ]
        return self._collection(request, "account", ids)

    async def get_account(self, request: Request) -> Response:
        account = self.state.accounts.get(request.path_params["record_id"])
        if account is None:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        return NsResponse(
            {
                "links": links_of(request, f"/account/{account.id}"),
                "id": account.id,
                "acctNumber": account.acct_number,
                "acctName": account.acct_name,
                "acctType": {"id": account.acct_type, "refName": account.acct_type},
                "isInactive": False,
            }
        )

    async def create_journal_entry(self, request: Request) -> Response:
        values = await read_body(request, _ENTRY_FIELDS)
        external = text_value(values, "externalId", "")
        if external and self.state.journal_entry_count(external):
            raise NsFault(400, "USER_ERROR", "A record with the same external ID already exists.")
        subsidiary = ref_id(values, "subsidiary")
        if subsidiary not in self.state.subsidiaries:
            raise invalid_ref("subsidiary", subsidiary)
        currency = ref_id(values, "currency")
        if currency != self._currency_of_subsidiary(subsidiary):
            raise invalid_ref("currency", currency)
        approved = values.get("approved", True)
        if not isinstance(approved, bool):
            raise NsFault(400, "INVALID_CONTENT", "Field approved must be a boolean.")
        number = self.state.next_tran_number
        entry = JournalEntryRecord(
            id=self.state.new_id(),
            external_id=external,
            tran_id=text_value(values, "tranId", f"JE{number}"),
            subsidiary_id=subsidiary,
            currency_id=currency,
            tran_date=date_value(values, "tranDate", self.state.today or date.today()),
            memo=text_value(values, "memo", ""),
            approved=False,
            lines=self._journal_lines(values.get("line"), subsidiary, CURRENCIES[currency][0]),
        )
        if approved:
            self._approve_entry(entry)
        self.state.next_tran_number += 1
        self.state.journal_entries[entry.id] = entry
        return created(request, "journalEntry", entry.id)

    def _journal_lines(self, sublist: Any, subsidiary: str, currency: str) -> list[JournalLine]:
        if not isinstance(sublist, dict) or set(sublist) != {"items"}:
            raise NsFault(
                400, "USER_ERROR", 'A journal entry needs a line sublist {"items": [...]}.'
            )
        raw_lines = sublist["items"]
        if not isinstance(raw_lines, list) or len(raw_lines) < 2:
            raise NsFault(400, "USER_ERROR", "A journal entry needs at least two lines.")
        lines = [
            self._journal_line(number, raw, subsidiary, currency)
            for number, raw in enumerate(raw_lines)
        ]
        debits = sum((line.debit for line in lines), Decimal(0))
        if debits != sum((line.credit for line in lines), Decimal(0)):
            raise NsFault(400, "USER_ERROR", "The debits and credits of the entry are not equal.")
        return lines

    def _journal_line(self, number: int, raw: Any, subsidiary: str, currency: str) -> JournalLine:
        if not isinstance(raw, dict) or set(raw) - _LINE_FIELDS:
            raise NsFault(400, "INVALID_CONTENT", f"Invalid field name in line {number}.")
        account = self.state.accounts.get(ref_id(raw, "account"))
        if account is None:
            raise invalid_ref("account", ref_id(raw, "account"))
        sides = [number_value(raw, side) if side in raw else Decimal(0) for side in _SIDES]
        debit, credit = sides
        if (debit > 0) == (credit > 0) or min(sides) < 0:
            raise NsFault(400, "USER_ERROR", f"Line {number} needs either a debit or a credit.")
        if any(round_amount(side, currency) != side for side in sides):
            raise NsFault(400, "USER_ERROR", f"Line {number} has an amount finer than {currency}.")
        entity = self._line_entity(number, raw, subsidiary)
        if account.acct_type == RECEIVABLE and entity is None:
            raise NsFault(
                400, "USER_ERROR", f"Line {number} is on Accounts Receivable: enter a customer."
            )
        return JournalLine(number, account, debit, credit, text_value(raw, "memo", ""), entity)

    def _line_entity(
        self, number: int, raw: dict[str, Any], subsidiary: str
    ) -> CustomerRecord | None:
        """The line's customer (`entity`), which must belong to the entry's subsidiary."""
        if "entity" not in raw:
            return None
        customer = self.state.customers.get(ref_id(raw, "entity"))
        if customer is None or customer.subsidiary_id != subsidiary:
            raise invalid_ref(f"entity (line {number})", ref_id(raw, "entity"))
        return customer

    def _approve_entry(self, entry: JournalEntryRecord) -> None:
        self._open_for_posting(entry.tran_date)
        entry.approved = True

    async def list_journal_entries(self, request: Request) -> Response:
        conditions = query_conditions(
            request, frozenset({"externalId", "tranId", "tranDate", "subsidiary"})
        )
        ids = [
            entry.id
            for entry in self.state.journal_entries.values()
            if meets(
                conditions,
                {
                    "externalId": entry.external_id,
                    "tranId": entry.tran_id,
                    "tranDate": entry.tran_date,
                    "subsidiary": entry.subsidiary_id,
                },
            )
        ]
        return self._collection(request, "journalEntry", ids)

    async def update_journal_entry(self, request: Request) -> Response:
        entry = self._journal_entry(request)
        values = await read_body(request, frozenset({"approved", "tranDate"}))
        if entry.approved and values:
            raise NsFault(400, "USER_ERROR", "An approved journal entry cannot be changed here.")
        entry.tran_date = date_value(values, "tranDate", entry.tran_date)
        if values.get("approved") is True:
            self._approve_entry(entry)
        return created(request, "journalEntry", entry.id)

    async def get_journal_entry(self, request: Request) -> Response:
        entry = self._journal_entry(request)
        path = f"/journalEntry/{entry.id}"
        sublist: dict[str, Any] = {"links": links_of(request, f"{path}/line")}
        if request.query_params.get("expandSubResources") == "true":
            sublist |= {
                "items": [_line_wire(request, line) for line in entry.lines],
                "count": len(entry.lines),
                "hasMore": False,
                "offset": 0,
                "totalResults": len(entry.lines),
            }
        company = self.state.subsidiaries[entry.subsidiary_id]
        return NsResponse(
            {
                "links": links_of(request, path),
                "id": entry.id,
                "externalId": entry.external_id,
                "tranId": entry.tran_id,
                "tranDate": entry.tran_date.isoformat(),
                "subsidiary": ref_of(request, "subsidiary", entry.subsidiary_id, company.name),
                "currency": ref_of(
                    request, "currency", entry.currency_id, CURRENCIES[entry.currency_id][1]
                ),
                "memo": entry.memo,
                "approved": entry.approved,
                "line": sublist,
            }
        )

    def _journal_entry(self, request: Request) -> JournalEntryRecord:
        entry = self.state.journal_entries.get(request.path_params["record_id"])
        if entry is None:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        return entry


_SIDES = ("debit", "credit")


def _line_wire(request: Request, line: JournalLine) -> dict[str, Any]:
    account = line.account
    return {
        "links": [],
        "line": line.line,
        "account": ref_of(
            request, "account", account.id, f"{account.acct_number} {account.acct_name}"
        ),
        **({"debit": line.debit} if line.debit else {"credit": line.credit}),
        "memo": line.memo,
        **(
            {}
            if line.entity is None
            else {"entity": ref_of(request, "customer", line.entity.id, line.entity.company_name)}
        ),
    }
