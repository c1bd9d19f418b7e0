"""Sales orders (an accepted CRM quote) and their lines.

`quote_ref` is the CRM quote the order comes from: one order per quote. The ERP order is
keyed by the order's id (its external document number). Each line is a price of the
catalog mapped to its product's ERP item; once the service starts, each line's
subscription is ordered and linked here.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.canonical.orders import SalesOrderStatus
from core.models.base import Base, VersionedMixin


class SalesOrderRow(VersionedMixin, Base):
    __tablename__ = "sales_orders"
    __table_args__ = (Index("ix_sales_orders_status_synced", "status", "synced_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    quote_ref: Mapped[str] = mapped_column(String(100), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"), index=True)
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"))
    currency: Mapped[str] = mapped_column(String(3))
    order_date: Mapped[date] = mapped_column(Date)
    service_start: Mapped[date] = mapped_column(Date)
    status: Mapped[SalesOrderStatus] = mapped_column(String(20))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    erp_order_id: Mapped[str | None] = mapped_column(String(255))
    erp_order_number: Mapped[str | None] = mapped_column(String(255))
    erp_status: Mapped[str | None] = mapped_column(String(20))
    erp_subtotal: Mapped[int | None] = mapped_column(BigInteger)
    erp_tax: Mapped[int | None] = mapped_column(BigInteger)
    erp_total: Mapped[int | None] = mapped_column(BigInteger)
    synced_at: Mapped[datetime | None]


class SalesOrderLineRow(Base):
    __tablename__ = "sales_order_lines"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sales_order_id: Mapped[str] = mapped_column(ForeignKey("sales_orders.id"), index=True)
    sequence: Mapped[int]
    price_id: Mapped[str] = mapped_column(ForeignKey("prices.id"))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    description: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int]
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    tax_code: Mapped[str] = mapped_column(String(20))
    erp_item: Mapped[str] = mapped_column(String(60))
    subscription_id: Mapped[str | None] = mapped_column(ForeignKey("subscriptions.id"), index=True)
