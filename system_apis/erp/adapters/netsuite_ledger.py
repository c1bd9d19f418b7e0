"""NetSuite's `ErpPayments` and `ErpJournals`: customer payments and journal entries.

NetSuite has no journal batches. A customer payment is deposited to a bank account,
so the payment "journal" is that account: `ensure_customer_payment_journal` resolves
the journal's balancing account (by `acctNumber`) and the journal id is the account's
internal id. The payment is transformed from the invoice it pays (`POST
/invoice/{id}/!transform/customerPayment`), which applies it there, and NetSuite posts
it on save. A general journal entry stands alone: `ensure_journal` names no record
(the journal id is its code) and each entry is one `journalEntry`, balanced on its own
lines (a balancing account is refused).

Idempotency: payments and journal entries carry our key as their `externalId` (the
payment's external document number, the entry's document number, also its `tranId`),
which NetSuite keeps unique; the adapter looks it up before creating, so a retry after
a lost answer finds the record. An entry is created pending approval with all its lines
in one request, and approving it (`approved`) posts it, as with journal approval on.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from system_apis.erp.adapters.netsuite_records import NetSuiteRecords
from system_apis.erp.adapters.netsuite_wire import (
    NsCustomerPayment,
    NsJournalApproval,
    NsJournalEntry,
)
from system_apis.erp.netsuite_mapping import (
    journal_entry_from_ns,
    journal_entry_to_ns,
    journal_lines_from_ns,
    ns_is,
    payment_from_ns,
    payment_to_ns,
)
from system_apis.erp.schemas import (
    ErpCustomerPayment,
    ErpCustomerPaymentCreate,
    ErpJournal,
    ErpJournalCreate,
    ErpJournalEntry,
    ErpJournalEntryCreate,
)


class NetSuiteLedger(NetSuiteRecords):
    """Customer payments and journal entries."""

    async def ensure_customer_payment_journal(
        self, company_id: str, journal: ErpJournalCreate
    ) -> ErpJournal:
        """The bank account payments are deposited to (the journal's balancing account)."""
        operation = "ensure_customer_payment_journal"
        number = journal.balancing_account_number
        account_id = None if number is None else await self._account_id(number, operation)
        if account_id is None:
            raise self._refusal(
                f"has no bank account {number!r} to deposit payment journal "
                f"{journal.code!r} of subsidiary {company_id} to",
                operation,
            )
        return ErpJournal(
            id=account_id,
            code=journal.code,
            display_name=journal.display_name,
            balancing_account_number=number,
        )

    async def apply_customer_payment(
        self, company_id: str, journal_id: str, payment: ErpCustomerPaymentCreate
    ) -> ErpCustomerPayment:
        """Transform the invoice into the payment, unless one has this external id already."""
        operation = "apply_customer_payment"
        found = await self._find_payment(company_id, payment.external_document_number, operation)
        if found is None:
            invoice = await self._get_invoice(company_id, payment.applies_to_invoice_id, operation)
            response = await self._send(
                "POST",
                f"/invoice/{quote(invoice.id, safe='')}/!transform/customerPayment",
                operation=operation,
                body=payment_to_ns(payment, journal_id),
            )
            created_id = self._created_id(response, "customerPayment", operation)
            found = await self._get_payment(company_id, created_id, operation)
        return await self._canonical_payment(found, operation)

    async def ensure_journal(self, company_id: str, journal: ErpJournalCreate) -> ErpJournal:
        """NetSuite has no journal batches: the journal is its code, and needs no record."""
        if journal.balancing_account_number is not None:
            raise self._refusal(
                f"journal entries balance on their own lines: journal {journal.code!r} of "
                f"subsidiary {company_id} cannot have balancing account "
                f"{journal.balancing_account_number!r}",
                "ensure_journal",
            )
        return ErpJournal(
            id=journal.code,
            code=journal.code,
            display_name=journal.display_name,
            balancing_account_number=None,
        )

    async def add_journal_entry(
        self, company_id: str, journal_id: str, entry: ErpJournalEntryCreate
    ) -> ErpJournalEntry:
        """Create the entry pending approval; the one with its document number is returned
        as it is when its lines are the entry's (NetSuite saves all lines or none)."""
        operation = "add_journal_entry"
        found = await self._find_journal_entry(company_id, entry.document_number, operation)
        if found is None:
            numbers = sorted({line.account_number for line in entry.lines})
            account_ids = {
                number: await self._known_account(number, operation) for number in numbers
            }
            body = journal_entry_to_ns(
                entry,
                company_id=company_id,
                currency_id=await self._currency_id(entry.currency, operation),
                account_ids=account_ids,
            )
            response = await self._send("POST", "/journalEntry", operation=operation, body=body)
            created_id = self._created_id(response, "journalEntry", operation)
            found = await self._get_journal_entry(company_id, created_id, operation)
        elif not found.approved:
            accounts = await self._account_numbers(found, operation)
            lines = self._mapped(operation, journal_lines_from_ns, found, accounts, entry.currency)
            if lines != entry.lines:
                raise self._refusal(
                    f"holds journal entry {entry.document_number!r} with other lines than "
                    "the entry's; it must be removed by hand",
                    operation,
                )
        return await self._canonical_entry(found, journal_id, entry.currency, operation)

    async def post_journal_entry(
        self, company_id: str, journal_id: str, document_number: str, currency: str
    ) -> ErpJournalEntry:
        """Approve the entry, which posts it; an approved entry is returned unchanged."""
        operation = "post_journal_entry"
        found = await self._find_journal_entry(company_id, document_number, operation)
        if found is None:
            raise self._refusal(
                f"holds no journal entry {document_number!r} in subsidiary {company_id}",
                operation,
            )
        if not found.approved:
            await self._send(
                "PATCH",
                f"/journalEntry/{quote(found.id, safe='')}",
                operation=operation,
                body=NsJournalApproval(approved=True),
            )
            found = await self._get_journal_entry(company_id, found.id, operation)
        return await self._canonical_entry(found, journal_id, currency, operation)

    async def _find_payment(
        self, company_id: str, external_id: str, operation: str
    ) -> NsCustomerPayment | None:
        found = await self._unique_id(
            "customerPayment", operation, ns_is("externalId", external_id)
        )
        return None if found is None else await self._get_payment(company_id, found, operation)

    async def _get_payment(
        self, company_id: str, payment_id: str, operation: str
    ) -> NsCustomerPayment:
        payment = await self._get_expanded(
            "customerPayment", payment_id, NsCustomerPayment, operation
        )
        self._check_subsidiary(
            "customer payment", payment_id, payment.subsidiary.id, company_id, operation
        )
        return payment

    async def _canonical_payment(
        self, payment: NsCustomerPayment, operation: str
    ) -> ErpCustomerPayment:
        customer_number = await self._customer_number(payment.customer.id, operation)
        currency = await self._currency_code(payment.currency.id, operation)
        return self._mapped(operation, payment_from_ns, payment, customer_number, currency)

    async def _find_journal_entry(
        self, company_id: str, document_number: str, operation: str
    ) -> NsJournalEntry | None:
        found = await self._unique_id(
            "journalEntry", operation, ns_is("externalId", document_number)
        )
        return (
            None if found is None else await self._get_journal_entry(company_id, found, operation)
        )

    async def _get_journal_entry(
        self, company_id: str, entry_id: str, operation: str
    ) -> NsJournalEntry:
        entry = await self._get_expanded("journalEntry", entry_id, NsJournalEntry, operation)
        self._check_subsidiary(
            "journal entry", entry_id, entry.subsidiary.id, company_id, operation
        )
        return entry

    async def _canonical_entry(
        self, entry: NsJournalEntry, journal_id: str, currency: str, operation: str
    ) -> ErpJournalEntry:
        accounts = await self._account_numbers(entry, operation)
        return self._mapped(operation, journal_entry_from_ns, entry, journal_id, accounts, currency)

    async def _account_numbers(self, entry: NsJournalEntry, operation: str) -> dict[str, str]:
        """The account numbers of the entry's lines, by the accounts' internal ids."""
        return await self._numbers_of({line.account.id for line in entry.line.items}, operation)

    async def _numbers_of(self, account_ids: Iterable[str], operation: str) -> dict[str, str]:
        return {
            account_id: await self._account_number(account_id, operation)
            for account_id in sorted(account_ids)
        }

    async def _known_account(self, number: str, operation: str) -> str:
        account_id = await self._account_id(number, operation)
        if account_id is None:
            raise self._refusal(f"has no account numbered {number!r}", operation)
        return account_id
