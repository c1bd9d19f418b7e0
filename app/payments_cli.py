"""`ledgergate payments reverse`: an operator undoes an applied payment, audited as theirs.

The same workflow as `POST /v1/payments/{id}/reversal` (its run, its idempotency by the
payment: a reversed payment is answered as it is), started from the command line.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from app.cli_output import print_table, table
from app.operator import Operator, audited
from app.runtime import runtime
from core.models.payment import PaymentStatus
from core.settings import get_settings
from process_apis.payments.reversal import PaymentReversalWorkflow
from process_apis.payments.schemas import PaymentResource

payments_app = typer.Typer(help="Payments applied in the ERP: an operator's reversal.")
Reason = Annotated[str, typer.Option(help="Why (a bounced cheque, the wrong invoice): recorded.")]


@payments_app.command("reverse")
def payments_reverse(payment_id: str, reason: Reason, operator: Operator) -> None:
    """Reverse an applied payment: a reversing entry in the ERP, the invoice owing again, its
    commissions clawed back. Exits 1 while the reversal waits in the exception queue."""
    settings = get_settings()

    async def run(correlation_id: str) -> PaymentResource:
        async with runtime(settings) as running:
            return await PaymentReversalWorkflow(running.context).reverse(
                payment_id, reason=reason, client_id=operator, correlation_id=correlation_id
            )

    payment = audited(
        operator,
        "payments reverse",
        lambda correlation_id: asyncio.run(run(correlation_id)),
        object_id=payment_id,
        arguments={"reason": reason},
    )
    clawed = [line for line in payment.commission_lines if line.reverses_line_id]
    shown = table("payment", "invoice", "amount", "status", "reversal", "claw-backs", "run")
    shown.add_row(
        payment.id,
        payment.invoice_id,
        f"{payment.amount} {payment.currency}",
        payment.status,
        payment.reversal_document_number or "",
        str(sum(line.commission_amount for line in clawed)),
        payment.run_url or "",
    )
    print_table(shown)
    if payment.status != PaymentStatus.REVERSED:
        raise typer.Exit(code=1)
