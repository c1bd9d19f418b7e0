"""ORM models, one module per table. Importing this package registers them all."""

from core.models.amendment_proration import AmendmentProrationRow
from core.models.api_client import ApiClientRow
from core.models.audit_event import AuditEventRow
from core.models.base import Base
from core.models.commission_line import CommissionLineRow
from core.models.credit_memo import CreditMemoRow
from core.models.customer import CustomerRow
from core.models.dispute import DisputeRow
from core.models.dunning import DunningCaseRow
from core.models.duplicate_count import DuplicateCountRow
from core.models.entitlement import EntitlementRow
from core.models.erp_budget import ErpBudgetGrantRow, ErpBudgetStateRow
from core.models.event_outbox import EventOutboxRow, EventPublicationRow
from core.models.idempotency_key import IdempotencyKeyRow
from core.models.invoice import InvoiceLineRow, InvoiceRow
from core.models.legal_entity import AccountingPeriodRow, LegalEntityRow, TaxCodeMappingRow
from core.models.operator import ConsoleSessionRow, OperatorRow
from core.models.partner import PartnerRow
from core.models.payment import PaymentRow
from core.models.payment_application import PaymentApplicationRow
from core.models.posting_batch import PostingBatchItemRow, PostingBatchRow
from core.models.price import PriceRow
from core.models.product import ProductRow
from core.models.reconciliation import (
    ReconciliationDifferenceRow,
    ReconciliationItemRow,
    ReconciliationRunRow,
)
from core.models.refund import RefundRow
from core.models.revenue import (
    RecognitionRunLineRow,
    RecognitionRunRow,
    RevenueAdjustmentRow,
    RevenueEntryRow,
    RevenueRuleRow,
    RevenueScheduleRow,
)
from core.models.sales_order import SalesOrderLineRow, SalesOrderRow
from core.models.settlement import SettlementRow
from core.models.settlement_period import SettlementPeriodRow
from core.models.signing_key import SigningKeyRow
from core.models.subscription import SubscriptionRow
from core.models.usage_event import UsageEventRow
from core.models.usage_report import UsageReportPassRow, UsageReportRow
from core.models.webhook_attempt import WebhookAttemptRow
from core.models.webhook_endpoint import WebhookEndpointRow
from core.models.webhook_event import WebhookInboxRow, WebhookReceiptRow
from core.models.webhook_message import WebhookMessageRow
from core.models.workflow_run import WorkflowRunRow, WorkflowStepRow

__all__ = [
    "AmendmentProrationRow",
    "ApiClientRow",
    "AuditEventRow",
    "AccountingPeriodRow",
    "Base",
    "CommissionLineRow",
    "ConsoleSessionRow",
    "CreditMemoRow",
    "CustomerRow",
    "DisputeRow",
    "DunningCaseRow",
    "DuplicateCountRow",
    "EntitlementRow",
    "ErpBudgetGrantRow",
    "ErpBudgetStateRow",
    "EventOutboxRow",
    "EventPublicationRow",
    "IdempotencyKeyRow",
    "OperatorRow",
    "InvoiceLineRow",
    "InvoiceRow",
    "LegalEntityRow",
    "PartnerRow",
    "PaymentRow",
    "PaymentApplicationRow",
    "PostingBatchItemRow",
    "PostingBatchRow",
    "PriceRow",
    "ProductRow",
    "ReconciliationDifferenceRow",
    "ReconciliationItemRow",
    "ReconciliationRunRow",
    "RefundRow",
    "SalesOrderLineRow",
    "SalesOrderRow",
    "RecognitionRunLineRow",
    "RecognitionRunRow",
    "RevenueAdjustmentRow",
    "RevenueEntryRow",
    "RevenueRuleRow",
    "RevenueScheduleRow",
    "SettlementRow",
    "SettlementPeriodRow",
    "SigningKeyRow",
    "SubscriptionRow",
    "TaxCodeMappingRow",
    "UsageEventRow",
    "UsageReportPassRow",
    "UsageReportRow",
    "WebhookAttemptRow",
    "WebhookEndpointRow",
    "WebhookInboxRow",
    "WebhookMessageRow",
    "WebhookReceiptRow",
    "WorkflowRunRow",
    "WorkflowStepRow",
]
