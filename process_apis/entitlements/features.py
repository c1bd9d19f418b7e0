"""What a product tier entitles a customer to: features here, a support tier in the desk.

The catalog of features is ours (the canonical entitlements); the support desk only
knows the tier, which routes the customer's cases (see `system_apis.support.port`).
"""

from __future__ import annotations

from core.errors import BusinessRuleViolation
from system_apis.support.schemas import SupportTier

TIER_FEATURES: dict[SupportTier, tuple[str, ...]] = {
    SupportTier.STARTER: ("api_access", "standard_support"),
    SupportTier.PRO: ("api_access", "webhooks", "priority_support"),
    SupportTier.ENTERPRISE: (
        "api_access",
        "webhooks",
        "premium_support",
        "sso",
        "audit_log_export",
    ),
}


class UnsupportedTier(BusinessRuleViolation):
    slug = "unsupported-product-tier"
    title = "The product's tier grants no known entitlements"


def support_tier(product_tier: str) -> SupportTier:
    """The support tier (and so the features) a product of `product_tier` grants."""
    try:
        return SupportTier(product_tier)
    except ValueError:
        known = ", ".join(tier.value for tier in SupportTier)
        raise UnsupportedTier(
            f"products of tier {product_tier!r} grant no entitlements (known: {known})"
        ) from None
