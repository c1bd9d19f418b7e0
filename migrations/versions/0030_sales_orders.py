"""sales orders: accepted quotes booked as ERP sales orders, and their lines

Revision ID: 0030
Revises: 0025
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sales_orders",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("quote_ref", sa.String(length=100), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("legal_entity_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("service_start", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("erp_order_id", sa.String(length=255), nullable=True),
        sa.Column("erp_order_number", sa.String(length=255), nullable=True),
        sa.Column("erp_status", sa.String(length=20), nullable=True),
        sa.Column("erp_subtotal", sa.BigInteger(), nullable=True),
        sa.Column("erp_tax", sa.BigInteger(), nullable=True),
        sa.Column("erp_total", sa.BigInteger(), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_sales_orders_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["legal_entity_id"],
            ["legal_entities.id"],
            name=op.f("fk_sales_orders_legal_entity_id_legal_entities"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_sales_orders_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_orders")),
        sa.UniqueConstraint("quote_ref", name=op.f("uq_sales_orders_quote_ref")),
    )
    op.create_index(
        op.f("ix_sales_orders_customer_id"), "sales_orders", ["customer_id"], unique=False
    )
    op.create_index(
        op.f("ix_sales_orders_legal_entity_id"), "sales_orders", ["legal_entity_id"], unique=False
    )
    op.create_index(
        "ix_sales_orders_status_synced", "sales_orders", ["status", "synced_at"], unique=False
    )
    op.create_table(
        "sales_order_lines",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("sales_order_id", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("price_id", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_amount", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("tax_code", sa.String(length=20), nullable=False),
        sa.Column("erp_item", sa.String(length=60), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["sales_order_id"],
            ["sales_orders.id"],
            name=op.f("fk_sales_order_lines_sales_order_id_sales_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["price_id"], ["prices.id"], name=op.f("fk_sales_order_lines_price_id_prices")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_sales_order_lines_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_sales_order_lines_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_order_lines")),
    )
    op.create_index(
        op.f("ix_sales_order_lines_sales_order_id"),
        "sales_order_lines",
        ["sales_order_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sales_order_lines_subscription_id"),
        "sales_order_lines",
        ["subscription_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sales_order_lines_subscription_id"), table_name="sales_order_lines")
    op.drop_index(op.f("ix_sales_order_lines_sales_order_id"), table_name="sales_order_lines")
    op.drop_table("sales_order_lines")
    op.drop_index("ix_sales_orders_status_synced", table_name="sales_orders")
    op.drop_index(op.f("ix_sales_orders_legal_entity_id"), table_name="sales_orders")
    op.drop_index(op.f("ix_sales_orders_customer_id"), table_name="sales_orders")
    op.drop_table("sales_orders")
