"""How a product's billed lines are recognized: reference data, read when a schedule is
drawn up (a schedule keeps the method it was drawn up with)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.models.product import ProductRow
from core.models.revenue import RecognitionMethod, RevenueRuleRow
from process_apis.revenue.schemas import RevenueRule


async def set_rule(
    session: AsyncSession, product_id: str, method: RecognitionMethod
) -> RevenueRule:
    if await session.get(ProductRow, product_id) is None:
        raise NotFound(f"no product {product_id}")
    rule = await session.get(RevenueRuleRow, product_id)
    if rule is None:
        rule = RevenueRuleRow(product_id=product_id, method=method)
        session.add(rule)
    else:
        rule.method = method
    await session.flush()
    return RevenueRule.model_validate(rule)
