"""Business Central's bulk posting of new sales invoices: OData JSON `$batch` requests.

Per document a batch carries two operations: the deep insert of the header with its
lines, and its `Microsoft.NAV.post` (depending on the insert, by `$<id>`). The documents
it posted are then read back together, `salesInvoices?$filter=externalDocumentNumber eq
'…' or …&$expand=salesInvoiceLines`, one request per `DOCUMENTS_PER_READ` of them: a
read of each document inside the batch would cost a third of the batch's operations,
which is what the window counts where BC counts a batch's operations
(`ErpLimits.batch_counted_as`). The read is a request of its own because a batch may run the
operations that depend on nothing in any order, and one that depends on every post fails
(`424`) as soon as one post failed. A batch and its reads take one slot of the budget.

A document whose insert or post failed has that operation's error; a batch lost whole
gives each of its documents the same error. A document that was posted but that its read
did not bring back (the read failed, or its answer lacks it) is a transient error: its
retry looks it up by external document number first and takes the posted document as it
is, so nothing is posted twice.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from urllib.parse import quote

import httpx

from core.settings import ErpLimits
from system_apis.erp.adapters.business_central_base import decode_bc_error
from system_apis.erp.adapters.business_central_orders import BusinessCentralSalesOrders
from system_apis.erp.adapters.business_central_wire import (
    BcBatchAnswer,
    BcBatchResponse,
    BcSalesInvoice,
    BcSalesInvoiceList,
)
from system_apis.erp.mapping import (
    NEW_INVOICE_READ_ID,
    batch_operation_ids,
    new_sales_invoice_operations,
    odata_eq,
    sales_invoice_batch_operations,
    sales_invoice_from_bc,
)
from system_apis.erp.schemas import ErpSalesInvoice, ErpSalesInvoiceCreate
from system_apis.errors import BackendContractError, BackendError, BackendTransientError
from system_apis.priority import Priority, prioritized

DEFAULT_OPERATIONS_PER_BATCH = 100
"""Operations a `$batch` carries (BC's limit) when the connection has no budget."""
OPERATIONS_PER_DOCUMENT = 2
DOCUMENTS_PER_READ = 25
"""Posted documents read back in one request: 25 equalities on external document numbers
of BC's longest (35 characters) keep its query within `MAX_QUERY_LENGTH`; a page of BC's
API holds thousands, so each read is one page."""
MAX_QUERY_LENGTH = 2048
"""The longest query string a read back sends: IIS's default `maxQueryString`, a bound
any web front end accepts (BC's API documents none of its own)."""
OTHER_OPERATIONS_PER_WINDOW = 3
"""Operations of the bulk share's window that `$batch` sizes leave to other requests."""
FILL_TOLERANCE = 0.01
"""How many fewer documents a window may take with a larger `$batch` than with the best."""
EXPAND_LINES = "salesInvoiceLines"
READ_OPTIONS = f"&$expand={EXPAND_LINES}"
OR = quote(" or ", safe="")


def batch_cost(documents: int, limits: ErpLimits) -> int:
    """What a `$batch` of `documents` and the reads that follow it take of the window."""
    reads = -(-documents // DOCUMENTS_PER_READ)
    return limits.request_cost(OPERATIONS_PER_DOCUMENT * documents) + reads


def read_filters(externals: Sequence[str]) -> list[str]:
    """The `$filter`s (percent-encoded) that read documents back by their external numbers:
    at most `DOCUMENTS_PER_READ` a filter, its query within `MAX_QUERY_LENGTH` (a number
    longer than that alone goes alone)."""
    room = MAX_QUERY_LENGTH - len(f"$filter={READ_OPTIONS}")
    filters: list[str] = []
    terms: list[str] = []
    length = 0
    for external in externals:
        term = quote(odata_eq("externalDocumentNumber", external), safe="")
        if terms and (len(terms) == DOCUMENTS_PER_READ or length + len(OR + term) > room):
            filters.append(OR.join(terms))
            terms, length = [], 0
        length += len(term) + (len(OR) if terms else 0)
        terms.append(term)
    if terms:
        filters.append(OR.join(terms))
    return filters


class BusinessCentralBulkInvoices(BusinessCentralSalesOrders):
    """`ErpBulkInvoicing` over BC's `$batch`."""

    async def post_new_sales_invoices(
        self, company_id: str, invoices: Sequence[ErpSalesInvoiceCreate]
    ) -> list[ErpSalesInvoice | BackendError]:
        """`$batch` requests and their reads, one after another, each within the bulk share
        of the budget (the module's docstring says what each document's outcome is)."""
        per_batch = await self.bulk_invoices_per_request(company_id)
        outcomes: list[ErpSalesInvoice | BackendError] = []
        for start in range(0, len(invoices), per_batch):
            outcomes += await self._post_batch(company_id, invoices[start : start + per_batch])
        return outcomes

    async def post_new_sales_invoice(
        self, company_id: str, invoice: ErpSalesInvoiceCreate
    ) -> ErpSalesInvoice:
        """One `$batch` of three operations, each depending on the one before: the deep
        insert, the post and the read of the posted document, one slot of the budget for
        the three. A refused insert or post is raised as BC gave it; a posted
        document the answer does not hold is a transient error (its retry looks it up)."""
        operation = "post_new_sales_invoice"
        accounts = await self._account_ids(
            company_id, (line.account_number for line in invoice.lines), operation
        )
        requests = new_sales_invoice_operations(company_id, invoice, accounts)
        response = await self._send_batch(requests, operation)
        answers = {
            answer.id: answer
            for answer in self._parse(response, BcBatchResponse, operation).responses
        }
        created = self._batch_outcome(answers, 0, operation)
        if isinstance(created, BackendError):
            raise created
        answer = answers.get(NEW_INVOICE_READ_ID)
        found = None
        if answer is not None and answer.status == 200:
            found = self._parse_answer(answer, BcSalesInvoice, operation)
        outcome = self._posted(found, invoice, None, operation)
        if isinstance(outcome, BackendError):
            raise outcome
        return outcome

    async def bulk_invoices_per_request(
        self,
        company_id: str,  # noqa: ARG002 (one budget per connection)
    ) -> int:
        """Documents per `$batch`: the most whose batches (with their reads) post within
        `FILL_TOLERANCE` of the most documents a window of the bulk share takes, once
        `OTHER_OPERATIONS_PER_WINDOW` are left to the connection's other requests (probes,
        look-ups, a customer's upsert). Where BC counts a batch as one request, a batch is
        as full as BC takes (50 documents: it and its two reads cost 3). Where it counts
        the operations, a window of 108 takes three batches of 17 documents (34 operations
        and a read each, 105 in all: 51 documents), where two of 25 (51 each) or one of 50
        (103) take 50, and a window of 5,400 batches of 48 (98 with their two reads, 55 of
        them: 2,640 documents)."""
        budget = self._client.budget
        if budget is None:
            return DEFAULT_OPERATIONS_PER_BATCH // OPERATIONS_PER_DOCUMENT
        limits = budget.limits
        room = budget.max_cost(Priority.BULK)
        operations = limits.operations_per_batch
        if limits.batch_counted_as == "operations":
            operations = min(operations, room or sys.maxsize)
        most = max(1, operations // OPERATIONS_PER_DOCUMENT)
        if room is None:
            return most
        usable = max(batch_cost(1, limits), room - OTHER_OPERATIONS_PER_WINDOW)
        posted = {n: usable // batch_cost(n, limits) * n for n in range(1, most + 1)}
        enough = max(posted.values()) * (1 - FILL_TOLERANCE)
        return max(n for n, documents in posted.items() if documents >= enough)

    def _bulk_cost(self, documents: int) -> int:
        budget = self._client.budget
        return batch_cost(documents, budget.limits) if budget else 0

    async def _post_batch(
        self, company_id: str, invoices: Sequence[ErpSalesInvoiceCreate]
    ) -> list[ErpSalesInvoice | BackendError]:
        operation = "post_sales_invoice_batch"
        try:
            accounts = await self._account_ids(
                company_id,
                (line.account_number for invoice in invoices for line in invoice.lines),
                operation,
            )
            requests = [
                request
                for index, invoice in enumerate(invoices)
                for request in sales_invoice_batch_operations(company_id, index, invoice, accounts)
            ]
            async with self._client.held_slot(
                cost=self._bulk_cost(len(invoices)), priority=Priority.BULK
            ):
                response = await self._send_batch(requests, operation, priority=Priority.BULK)
                answers = {
                    answer.id: answer
                    for answer in self._parse(response, BcBatchResponse, operation).responses
                }
                created = [
                    self._batch_outcome(answers, index, operation) for index in range(len(invoices))
                ]
                externals = [
                    invoice.external_document_number
                    for invoice, outcome in zip(invoices, created, strict=True)
                    if not isinstance(outcome, BackendError)
                ]
                read, unread = await self._read_posted(company_id, externals, operation)
        except BackendError as error:
            return [error] * len(invoices)
        return [
            outcome
            if isinstance(outcome, BackendError)
            else self._posted(read.get(outcome) if outcome else None, invoice, unread, operation)
            for invoice, outcome in zip(invoices, created, strict=True)
        ]

    def _batch_outcome(
        self, answers: dict[str, BcBatchAnswer], index: int, operation: str
    ) -> str | None | BackendError:
        """The id of the document the batch created and posted (None when its answer names
        none), or the error of the first of its operations that failed."""
        ids = batch_operation_ids(index)
        missing = [op_id for op_id in ids if op_id not in answers]
        if missing:
            return BackendContractError(
                f"{self._client.backend} answered no operation {', '.join(missing)} of a batch",
                backend=self._client.backend,
                operation=operation,
            )
        failed = next((answers[op_id] for op_id in ids if answers[op_id].status >= 400), None)
        if failed is not None:
            return self._client.classify(
                httpx.Response(failed.status, json=failed.body),
                operation=operation,
                decode_error=decode_bc_error,
            )
        body = answers[ids[0]].body
        document_id = body.get("id") if isinstance(body, dict) else None
        return document_id if isinstance(document_id, str) else None

    async def _read_posted(
        self, company_id: str, externals: Sequence[str], operation: str
    ) -> tuple[dict[str, BcSalesInvoice], BackendError | None]:
        """The documents with these external numbers, with their lines, by id; and the
        error of a read that failed, if one did (the others' documents are kept)."""
        found: dict[str, BcSalesInvoice] = {}
        failed: BackendError | None = None
        invoices = f"/companies({company_id})/salesInvoices"
        with prioritized(Priority.BULK):
            for where in read_filters(externals):
                try:
                    response = await self._send(
                        "GET", f"{invoices}?$filter={where}{READ_OPTIONS}", operation=operation
                    )
                    page = self._parse(response, BcSalesInvoiceList, operation).value
                except BackendError as error:
                    failed = error
                    continue
                found.update((invoice.id, invoice) for invoice in page)
        return found, failed

    def _posted(
        self,
        document: BcSalesInvoice | None,
        invoice: ErpSalesInvoiceCreate,
        unread: BackendError | None,
        operation: str,
    ) -> ErpSalesInvoice | BackendError:
        """A posted document as read back; one the reads did not bring back is a transient
        error, so its retry looks it up rather than posting it again."""
        if document is None:
            reason = "its read failed" if unread is not None else "its read did not return it"
            return BackendTransientError(
                f"{self._client.backend} posted {invoice.external_document_number!r} in a "
                f"batch, but {reason}",
                backend=self._client.backend,
                operation=operation,
                vendor_message=None if unread is None else str(unread),
            )
        try:
            return self._mapped(operation, sales_invoice_from_bc, document)
        except BackendError as error:
            return error
