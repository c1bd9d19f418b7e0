"""A production configuration the gateway accepts: what the tests of production behaviour use."""

from __future__ import annotations

from typing import Any

PRODUCTION: dict[str, Any] = {
    "environment": "production",
    "database_url": "postgresql+asyncpg://ledgergate:pw@postgres:5432/ledgergate",
    "rate_limit_storage_url": "redis://redis:6379/0",
    "auth": {
        "issuer": "https://ledgergate.example.com",
        "key_encryption_key": "x0sQ5c1yYH3G0aX3mJ3v5m6oVh8f0b2kq9Jc2mXy1Zk=",
    },
    "erp": {"url": "https://erp.example/api/v1.0", "access_token": "real-token"},
    "billing": {
        "url": "https://api.stripe.com",
        "api_key": "sk_live_x",
        "webhook_secret": "whsec_x",
    },
    "crm": {
        "url": "https://crm.example/api/v1",
        "access_token": "real-token",
        "webhook_secret": "whsec_crm_real",
    },
    "support": {"url": "https://desk.example/desk/v2", "api_token": "real-token"},
}
