"""What every part of the Business Central adapter shares: the resilient client, BC's
error bodies, OData query options, parsing answers into wire models."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from system_apis.erp.adapters.business_central_wire import (
    BcAccountList,
    BcBatchAnswer,
    BcBatchOperation,
    BcBatchRequest,
    BcBatchResponse,
    BcCustomer,
    BcCustomerList,
    BcErrorBody,
    BcModel,
    BcPage,
    BcRequest,
)
from system_apis.erp.mapping import POST_AND_READ_IDS, odata_eq, post_and_read_operations
from system_apis.errors import BackendBusinessError, BackendContractError
from system_apis.http import ResilientClient, VendorError, map_record, parse_body, parse_json
from system_apis.priority import Priority

M = TypeVar("M", bound=BcModel)
T = TypeVar("T")

# A period's invoices are read page by page; each page is one round trip, and `$skip`
# makes the server pass over every earlier record again. BC serves up to 20,000 records
# a page; 1,000 keeps answers near a megabyte with lines expanded.
DEFAULT_PAGE_SIZE = 1000
QUERY_CACHE_SIZE = 256
"""Query strings kept quoted: the expansions every posting reads its document with."""


def decode_bc_error(response: httpx.Response) -> VendorError | None:
    """BC's `{"error": {"code", "message"}}` body, or `None` when the body is not one."""
    try:
        body = BcErrorBody.model_validate_json(response.content)
    except ValidationError:
        return None
    return VendorError(code=body.error.code, message=body.error.message)


@lru_cache(maxsize=QUERY_CACHE_SIZE)
def odata_query(**options: str) -> str:
    """OData system query options, percent-encoded (`%20`, not `+`, for spaces); each
    posting's read of its posted document asks the same, quoted once here."""
    return "&".join(f"${name}={quote(value, safe='')}" for name, value in options.items())


class BusinessCentralBase:
    """The client and the helpers each group of BC operations is built on."""

    def __init__(self, client: ResilientClient, *, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self._client = client
        self._page_size = page_size
        self._accounts: dict[str, dict[str, str]] = {}  # company id -> number -> account id

    async def _find_customer(
        self, customers: str, number: str, operation: str
    ) -> BcCustomer | None:
        response = await self._send(
            "GET",
            f"{customers}?{odata_query(filter=odata_eq('number', number))}",
            operation=operation,
        )
        found = self._parse(response, BcCustomerList, operation).value
        return found[0] if found else None

    async def _find_one(
        self,
        collection: str,
        page: type[BcPage[M]],
        what: str,
        key: tuple[str, str],
        operation: str,
        **options: str,
    ) -> M | None:
        """The one record of `collection` whose field `key[0]` is `key[1]`, if any; `what`
        names the records in the error when there are several."""
        field, value = key
        query = odata_query(filter=odata_eq(field, value), **options)
        response = await self._send("GET", f"{collection}?{query}", operation=operation)
        found = self._parse(response, page, operation).value
        return self._unique(found, f"{what} with {field} {value!r}", operation)

    async def _account_ids(
        self, company_id: str, numbers: Iterable[str | None], operation: str
    ) -> dict[str, str]:
        """The ids of the G/L accounts `numbers` names (`None` names none), by number; a
        number the chart lacks is refused. Ids never change: each is looked up once."""
        found = self._accounts.setdefault(company_id, {})
        for number in {number for number in numbers if number is not None} - found.keys():
            account = await self._find_one(
                f"/companies({company_id})/accounts",
                BcAccountList,
                "G/L accounts",
                ("number", number),
                operation,
            )
            if account is None:
                raise BackendBusinessError(
                    f"{self._client.backend} has no G/L account {number!r} in company {company_id}",
                    backend=self._client.backend,
                    operation=operation,
                )
            found[number] = account.id
        return found

    def _unique(self, found: list[T], what: str, operation: str) -> T | None:
        """The one record a key lookup found, if any; several is a mess to clean by hand."""
        if len(found) > 1:
            raise BackendBusinessError(
                f"{self._client.backend} holds {len(found)} {what}; one must be removed by hand",
                backend=self._client.backend,
                operation=operation,
            )
        return found[0] if found else None

    async def _send(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        body: BcRequest | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await self._client.request(
            method,
            url,
            operation=operation,
            json_body=None
            if body is None
            else body.model_dump(mode="json", by_alias=True, exclude_none=True),
            headers=headers,
            decode_error=decode_bc_error,
        )

    async def _post_and_read(self, target: str, read_url: str, model: type[M], operation: str) -> M:
        """Post `target` (a draft, a journal) and read what it posted (`read_url`, answered
        as `model`), in one `$batch` round trip.

        BC's refusal of the post is raised as BC gave it. An answer that does not hold the
        read (cut short, unreadable, the read itself failed) is followed by the read alone:
        the post may have happened, and what is read says whether it did.
        """
        operations = post_and_read_operations(target.removeprefix("/"), read_url.removeprefix("/"))
        response = await self._send_batch(operations, operation)
        post, read = self._batch_answers(response, operation)
        if post is not None and post.status >= 400:
            raise self._client.classify(
                httpx.Response(post.status, json=post.body),
                operation=operation,
                decode_error=decode_bc_error,
            )
        if post is not None and read is not None and read.status == 200:
            return self._parse_answer(read, model, operation)
        return self._parse(await self._send("GET", read_url, operation=operation), model, operation)

    async def _send_batch(
        self,
        operations: list[BcBatchOperation],
        operation: str,
        priority: Priority | None = None,
    ) -> httpx.Response:
        """One OData JSON `$batch` of `operations`, counted against the ERP budget as the
        connection says BC counts it (`ErpLimits.batch_counted_as`)."""
        budget = self._client.budget
        return await self._client.request(
            "POST",
            "/$batch",
            operation=operation,
            json_body=BcBatchRequest(requests=operations).model_dump(
                mode="json", by_alias=True, exclude_none=True
            ),
            decode_error=decode_bc_error,
            cost=budget.limits.request_cost(len(operations)) if budget else len(operations),
            priority=priority,
        )

    def _batch_answers(
        self, response: httpx.Response, operation: str
    ) -> tuple[BcBatchAnswer | None, BcBatchAnswer | None]:
        """The answers to the post and to the read, each None when BC's answer lacks it."""
        try:
            answers = self._parse(response, BcBatchResponse, operation).responses
        except BackendContractError:
            return None, None
        by_id = {answer.id: answer for answer in answers}
        post, read = POST_AND_READ_IDS
        return by_id.get(post), by_id.get(read)

    def _parse_answer(self, answer: BcBatchAnswer, model: type[M], operation: str) -> M:
        """A `$batch` operation's body as `model`, validated as JSON text as httpx would
        have written it (a decimal keeps the digits of its JSON number), without building
        an httpx response around it (about 120 calls)."""
        text = json.dumps(answer.body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return parse_json(
            text, model, status=answer.status, backend=self._client.backend, operation=operation
        )

    def _parse(self, response: httpx.Response, model: type[M], operation: str) -> M:
        return parse_body(response, model, backend=self._client.backend, operation=operation)

    def _mapped(self, operation: str, convert: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return map_record(
            convert, *args, backend=self._client.backend, operation=operation, **kwargs
        )
