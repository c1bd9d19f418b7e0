"""Runtime configuration from `LEDGERGATE_*` environment variables and `.env`."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]

PLACEHOLDER_SECRETS = frozenset({"sk_test_sandbox", "whsec_sandbox", "sandbox-token"})


class BackendSettings(BaseModel):
    """How to reach one backend. No `url` means the built-in sandbox, in process."""

    url: str | None = None
    connect_timeout_seconds: float = Field(default=2.0, gt=0)
    read_timeout_seconds: float = Field(default=10.0, gt=0)
    write_timeout_seconds: float = Field(default=10.0, gt=0)
    pool_timeout_seconds: float = Field(default=2.0, gt=0)
    max_connections: int = Field(default=50, ge=1)
    retry_attempts: int = Field(default=3, ge=1, le=10)
    retry_budget_seconds: float = Field(default=8.0, gt=0)
    retry_initial_backoff_seconds: float = Field(default=0.2, ge=0)
    retry_max_backoff_seconds: float = Field(default=2.0, ge=0)
    circuit_failure_threshold: int = Field(
        default=5, ge=1, description="Consecutive transient failures that open the circuit."
    )
    circuit_reset_seconds: float = Field(
        default=30.0, gt=0, description="How long an open circuit refuses calls before a probe."
    )


class ErpSettings(BackendSettings):
    """Dynamics 365 Business Central: `url` is the API root ending in `/api/v1.0`."""

    access_token: SecretStr = SecretStr("sandbox-token")


class BillingSettings(BackendSettings):
    """Stripe: `url` is the API root (`https://api.stripe.com`)."""

    api_key: SecretStr = SecretStr("sk_test_sandbox")
    api_version: str = "2020-08-27"
    webhook_secret: SecretStr = SecretStr("whsec_sandbox")
    webhook_tolerance_seconds: int = Field(
        default=300, ge=1, le=3600, description="How old a signed webhook delivery may be."
    )


class CrmSettings(BackendSettings):
    """The CRM / channel platform (Channel API v1): `url` is the API root ending in `/api/v1`."""

    access_token: SecretStr = SecretStr("sandbox-token")


class SupportSettings(BackendSettings):
    """The support desk (Desk API v2): `url` is the API root ending in `/desk/v2`."""

    api_token: SecretStr = SecretStr("sandbox-token")


class AuthSettings(BaseModel):
    """Token issuance and verification."""

    issuer: str = "https://ledgergate.local"
    audience: str = "ledgergate-api"
    token_ttl: timedelta = Field(default=timedelta(minutes=15))
    algorithm: Literal["ES256", "RS256"] = "ES256"
    clock_skew_seconds: int = Field(default=30, ge=0, le=300)
    key_refresh_seconds: int = Field(default=60, ge=1)
    client_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a client's status may be served from memory."
    )
    # An external identity provider whose tokens are accepted as well (all three, or none).
    external_issuer: str | None = None
    external_audience: str | None = None
    external_jwks_url: str | None = None
    external_jwks_cache_seconds: int = Field(default=300, ge=1)
    external_scope_claim: str = "scope"
    external_client_claim: str = "azp"
    external_partner_claim: str = "partner_id"

    @model_validator(mode="after")
    def _external_all_or_nothing(self) -> AuthSettings:
        external = (self.external_issuer, self.external_audience, self.external_jwks_url)
        if any(external) and not all(external):
            raise ValueError(
                "set external_issuer, external_audience and external_jwks_url together"
            )
        return self

    @property
    def external_enabled(self) -> bool:
        return self.external_jwks_url is not None


def _default_tiers() -> dict[str, dict[str, str]]:
    return {
        "standard": {"read": "600/minute", "write": "120/minute", "system": "60/minute"},
        "premium": {"read": "3000/minute", "write": "600/minute", "system": "300/minute"},
        "internal": {"read": "6000/minute", "write": "3000/minute", "system": "3000/minute"},
    }


class RateLimitSettings(BaseModel):
    """Limits per client tier and route class (`read`, `write`, `system`), and per IP."""

    enabled: bool = True
    tiers: dict[str, dict[str, str]] = Field(default_factory=_default_tiers)
    token: str = Field(default="30/minute", description="Token requests per client IP.")
    anonymous: str = Field(default="300/minute", description="Public routes, per client IP.")
    webhooks: str = Field(
        default="1200/minute",
        description="Webhook deliveries per sender IP, counted before the signature is checked.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDRs whose X-Forwarded-For is believed; nobody else's is.",
    )


class VersioningSettings(BaseModel):
    """Overrides of the lifecycle dates in the version registry (`app.governance.versioning`)."""

    v1_deprecation: AwareDatetime | None = Field(
        default=None, description="When the `/v1` operations that `/v2` replaces are deprecated."
    )
    v1_sunset: AwareDatetime | None = Field(
        default=None, description="When those `/v1` operations are to be withdrawn."
    )


def _default_approval_thresholds() -> dict[str, int]:
    return {"USD": 10_000, "EUR": 10_000}


class CreditMemoSettings(BaseModel):
    """When a support credit needs an approver (`credit_memos:approve`)."""

    approval_thresholds: dict[str, int] = Field(
        default_factory=_default_approval_thresholds,
        description="Largest credit per currency, in minor units, granted without approval; "
        "a credit in a currency not listed always needs one.",
    )


def _default_untaxed_tax_codes() -> dict[str, str]:
    return {"US": "EXEMPT"}


class LedgerSettings(BaseModel):
    """How the process tier books in the ERP: journals, G/L accounts, tax groups."""

    payment_journal: str = Field(default="LGPAY", max_length=10)
    bank_account: str = Field(default="10100", max_length=20)
    settlement_journal: str = Field(default="LGSETTLE", max_length=10)
    commission_expense_account: str = Field(default="60100", max_length=20)
    commission_payable_account: str = Field(default="21500", max_length=20)
    untaxed_tax_codes: dict[str, str] = Field(
        default_factory=_default_untaxed_tax_codes,
        description=(
            "Per legal-entity country, the ERP tax group of a billed line billing charged no "
            "tax on: billing is the tax engine, and the ERP books what the customer owes."
        ),
    )


class SettlementSettings(BaseModel):
    """When partner commissions are settled: the worker's monthly run and its preconditions."""

    schedule_enabled: bool = Field(
        default=True, description="The worker settles the previous month once a month."
    )
    schedule_day: int = Field(
        default=1,
        ge=1,
        le=28,
        description="Day of the month from which the worker settles the previous month.",
    )
    after_period_close: list[str] = Field(
        default_factory=list,
        description="Codes of the legal entities whose month is settled only once its "
        "accounting period is closed (their journal is dated in the next open period).",
    )


class Settings(BaseSettings):
    """All settings; nested values use `__`, e.g. `LEDGERGATE_ERP__URL`."""

    model_config = SettingsConfigDict(
        env_prefix="LEDGERGATE_",
        env_file=".env",
        env_nested_delimiter="__",
        extra="ignore",
    )

    environment: Environment = "development"
    database_url: str = "sqlite+aiosqlite:///./var/ledgergate.db"
    database_pool_size: int = Field(default=10, ge=1)
    database_pool_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long a request waits for a free database connection; then a 503.",
    )
    max_in_flight: int = Field(
        default=100,
        ge=0,
        description="Requests one worker process handles at once; more are refused at once "
        "with a 503 `overloaded` problem (probes and /metrics exempt). 0: no limit.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    migrate_on_start: bool = True
    idempotency_retention: timedelta = Field(
        default=timedelta(hours=24), description="How long Idempotency-Key responses are kept."
    )
    run_lease: timedelta = Field(
        default=timedelta(minutes=2),
        description="How long a worker holds a running workflow run without finishing a step; "
        "every step renews it, and a run whose lease has passed is taken over as abandoned.",
    )
    seed_demo_data: bool | None = None
    docs_enabled: bool | None = None
    auth: AuthSettings = AuthSettings()
    rate_limit_storage_url: str = Field(
        default="memory://",
        description="`memory://` (one process) or `redis://host:6379/0` (shared by replicas).",
    )
    rate_limits: RateLimitSettings = RateLimitSettings()
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API; none by default.",
    )
    erp: ErpSettings = ErpSettings()
    billing: BillingSettings = BillingSettings()
    crm: CrmSettings = CrmSettings()
    support: SupportSettings = SupportSettings()
    versioning: VersioningSettings = VersioningSettings()
    credit_memos: CreditMemoSettings = CreditMemoSettings()
    ledger: LedgerSettings = LedgerSettings()
    settlements: SettlementSettings = SettlementSettings()

    @property
    def serves_docs(self) -> bool:
        """Swagger UI, ReDoc and the OpenAPI document: off in production unless asked for."""
        return self.environment != "production" if self.docs_enabled is None else self.docs_enabled

    @property
    def should_seed_demo_data(self) -> bool:
        if self.seed_demo_data is None:
            return self.environment == "development"
        return self.seed_demo_data

    @model_validator(mode="after")
    def _refuse_placeholder_secrets_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        placeholders = [
            name
            for name, secret in (
                ("erp.access_token", self.erp.access_token),
                ("billing.api_key", self.billing.api_key),
                ("billing.webhook_secret", self.billing.webhook_secret),
                ("crm.access_token", self.crm.access_token),
                ("support.api_token", self.support.api_token),
            )
            if secret.get_secret_value() in PLACEHOLDER_SECRETS
        ]
        if placeholders:
            raise ValueError(f"placeholder secrets are not allowed in production: {placeholders}")
        backends = (
            ("erp", self.erp),
            ("billing", self.billing),
            ("crm", self.crm),
            ("support", self.support),
        )
        sandboxed = [name for name, b in backends if not b.url]
        if sandboxed:
            raise ValueError(f"production needs real backend URLs for: {sandboxed}")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
