"""ORM models, one module per table. Importing this package registers them all."""

from app.core.models.api_client import ApiClientRow
from app.core.models.audit_event import AuditEventRow
from app.core.models.base import Base
from app.core.models.commission_line import CommissionLineRow
from app.core.models.credit_memo import CreditMemoRow
from app.core.models.customer import CustomerRow
from app.core.models.entitlement import EntitlementRow
from app.core.models.idempotency_key import IdempotencyKeyRow
from app.core.models.invoice import InvoiceLineRow, InvoiceRow
from app.core.models.legal_entity import AccountingPeriodRow, LegalEntityRow
from app.core.models.partner import PartnerRow
from app.core.models.payment import PaymentRow
from app.core.models.price import PriceRow
from app.core.models.product import ProductRow
from app.core.models.settlement import SettlementRow
from app.core.models.signing_key import SigningKeyRow
from app.core.models.subscription import SubscriptionRow
from app.core.models.webhook_event import WebhookInboxRow, WebhookReceiptRow
from app.core.models.workflow_run import WorkflowRunRow, WorkflowStepRow

__all__ = [
    "ApiClientRow",
    "AuditEventRow",
    "AccountingPeriodRow",
    "Base",
    "CommissionLineRow",
    "CreditMemoRow",
    "CustomerRow",
    "EntitlementRow",
    "IdempotencyKeyRow",
    "InvoiceLineRow",
    "InvoiceRow",
    "LegalEntityRow",
    "PartnerRow",
    "PaymentRow",
    "PriceRow",
    "ProductRow",
    "SettlementRow",
    "SigningKeyRow",
    "SubscriptionRow",
    "WebhookInboxRow",
    "WebhookReceiptRow",
    "WorkflowRunRow",
    "WorkflowStepRow",
]
