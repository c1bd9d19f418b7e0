"""The count after a check: every ERP document against the gateway's records.

Given the invoices a check created and those whose posting the gateway accepted
(answered 201 or 202), once the exception queue has drained:

- lost: an accepted posting whose invoice is not `posted`;
- duplicated: more than one ERP document for an invoice, or a create the ERP
  sandbox answered with an existing document (a gateway that looks before it writes
  sends none; an ERP without the sandbox's one-document rule would have two);
- half-written: an ERP document whose invoice the gateway does not hold as posted,
  a posted invoice without its posted ERP document, an invoice left `posting`, or a
  run neither finished nor in the exception queue;
- reconciliation: `ledgergate reconcile` finds both sides in agreement.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from app.seed import demo_id
from chaos.estate import Estate, erp_documents, repeated_creates
from core.models.invoice import InvoiceRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from sandboxes.demo_estate import DEMO_COMPANIES

COMPANY = DEMO_COMPANIES[0].id  # the demo customer's legal entity, LG-US
LEGAL_ENTITY = demo_id("legal_entity", 1)
POSTING_WORKFLOW = "invoice_posting"
FINISHED_RUNS = frozenset({RunStatus.SUCCEEDED, RunStatus.RESOLVED, RunStatus.DISCARDED})
QUEUED_RUNS = frozenset({RunStatus.PENDING_RETRY, RunStatus.FAILED})


@dataclass
class Count:
    invoices: int
    accepted: int
    posted_once: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    half_written: list[str] = field(default_factory=list)
    queued: Counter[str] = field(default_factory=Counter)
    reconciled: bool = False

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.half_written) and self.reconciled

    def summary(self) -> str:
        queue = f", {sum(self.queued.values())} left in the exception queue" if self.queued else ""
        return (
            f"{self.accepted} accepted, {self.posted_once} posted once, {len(self.lost)} lost, "
            f"{len(self.duplicated)} duplicates, {len(self.half_written)} half-written{queue}, "
            f"reconciliation {'clean' if self.reconciled else 'NOT clean'}"
        )

    def problems(self) -> list[str]:
        """Up to five examples of each kind of failure, for the lines under a FAIL."""
        return [
            f"{kind}: {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}"
            for kind, items in (
                ("lost", self.lost),
                ("duplicated", self.duplicated),
                ("half-written", self.half_written),
            )
            if items
        ] + ([] if self.reconciled else ["reconciliation: see the reconcile log"])


async def count(place: Estate, invoice_ids: list[str], accepted: set[str]) -> Count:
    """Compare the ERP sandbox's ledger with the gateway's database (the queue drained)."""
    ours = set(invoice_ids)
    documents: dict[str, list[dict[str, object]]] = {}
    for document in erp_documents(place.erp, COMPANY):
        documents.setdefault(str(document["externalDocumentNumber"]), []).append(document)
    repeated = repeated_creates(place.erp)
    async with place.session() as session:
        statuses = dict(
            (
                await session.execute(
                    select(InvoiceRow.id, InvoiceRow.status).where(InvoiceRow.id.in_(ours))
                )
            ).all()
        )
        runs = (
            await session.execute(
                select(WorkflowRunRow.id, WorkflowRunRow.subject_id, WorkflowRunRow.status).where(
                    WorkflowRunRow.workflow == POSTING_WORKFLOW
                )
            )
        ).all()

    result = Count(invoices=len(ours), accepted=len(accepted & ours))
    for number in documents.keys() - ours:
        result.half_written.append(f"{number} (ERP document of no invoice of this check)")
    for invoice_id in invoice_ids:
        status = statuses.get(invoice_id)
        held = documents.get(invoice_id, [])
        if len(held) > 1 or repeated.get(invoice_id):
            result.duplicated.append(invoice_id)
        if status == "posted":
            if len(held) == 1 and held[0]["status"] != "Draft":
                result.posted_once += 1
            else:
                result.half_written.append(f"{invoice_id} (posted, {len(held)} ERP documents)")
        else:
            if invoice_id in accepted:
                result.lost.append(f"{invoice_id} ({status})")
            if held:
                result.half_written.append(f"{invoice_id} ({status}, yet in the ERP)")
            if status == "posting" and not any(
                subject == invoice_id and run_status in QUEUED_RUNS
                for _, subject, run_status in runs
            ):
                result.half_written.append(f"{invoice_id} (posting, no run queued)")
    for run_id, subject, run_status in runs:
        if subject not in ours:
            continue
        if run_status in QUEUED_RUNS:
            result.queued[run_status] += 1
        elif run_status not in FINISHED_RUNS:
            result.half_written.append(f"{run_id} (run {run_status} after the drain)")
    result.reconciled = place.reconcile(
        period=date.today().strftime("%Y-%m"), legal_entity=LEGAL_ENTITY
    )
    return result
