"""Runtime configuration from `LEDGERGATE_*` environment variables and `.env`."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    SecretStr,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]

DEFAULT_ERP_CONNECTION = "default"
DEMO_NETSUITE_CONNECTION = "netsuite"
"""In development, the NetSuite sandbox connection the demo estate's NetSuite company books on."""

PLACEHOLDER_SECRETS = frozenset({"sk_test_sandbox", "whsec_sandbox", "sandbox-token"})
DEVELOPMENT_ISSUER = "https://ledgergate.local"

# Encrypts signing keys at rest outside production when no key-encryption key is set:
# it is public, so production refuses to start with it.
DEVELOPMENT_KEY_ENCRYPTION_KEY = "bGVkZ2VyZ2F0ZS1kZXZlbG9wbWVudC1vbmx5LWtleSE="


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
    ca_bundle: FilePath | None = Field(
        default=None,
        description="PEM file of the certificate authorities trusted for this backend's TLS "
        "certificate, instead of the public ones (a private or corporate CA).",
    )


ErpKind = Literal["business_central", "netsuite"]
BatchCounting = Literal["request", "operations"]


class ErpLimits(BaseModel):
    """What an ERP connection allows: its budget, and its sandbox's enforcement.

    `requests_per_window` None: the vendor publishes no request-rate limit (only the
    concurrency counts). A batch request counts as one concurrent request, and as one
    request of the window (`batch_counted_as` "request") or as many as it carries
    operations ("operations").
    """

    model_config = ConfigDict(frozen=True)

    requests_per_window: int | None = Field(default=None, ge=1)
    window_seconds: float = Field(default=300.0, gt=0)
    max_concurrent_requests: int = Field(default=5, ge=1)
    operations_per_batch: int = Field(default=1, ge=1)
    batch_counted_as: BatchCounting = "request"

    def request_cost(self, operations: int) -> int:
        """What one request carrying `operations` takes of the window."""
        return operations if self.batch_counted_as == "operations" else 1


VENDOR_LIMITS: dict[str, ErpLimits] = {
    # "API limits in Dynamics 365 Business Central" (Operational limits for Business
    # Central online): 6,000 OData/API requests per 5-minute sliding window per user or
    # service principal, 5 concurrent requests per user, 100 operations per `$batch`.
    # "Working with API limits" lists batching among what reduces the calls counted:
    # "Instead of issuing multiple requests, one request can be issued."
    "business_central": ErpLimits(
        requests_per_window=6000,
        window_seconds=300.0,
        max_concurrent_requests=5,
        operations_per_batch=100,
        batch_counted_as="request",
    ),
    # NetSuite "Account governance / concurrency limit": 5 concurrent web-service and
    # REST requests for an account on the base service tier (more with SuiteCloud Plus);
    # beyond it, 429 `SSS_REQUEST_LIMIT_EXCEEDED`. No batch of records in the REST API.
    "netsuite": ErpLimits(
        requests_per_window=None,
        window_seconds=60.0,
        max_concurrent_requests=5,
        operations_per_batch=1,
    ),
}


class ErpSettings(BackendSettings):
    """One ERP connection. Business Central: `url` is the API root ending in `/api/v1.0`.

    NetSuite: `url` is the REST record API root ending in `/services/rest/record/v1`,
    and every invoice line is booked on the service item `netsuite_line_item_id`.
    """

    kind: ErpKind = "business_central"
    access_token: SecretStr = SecretStr("sandbox-token")
    netsuite_line_item_id: str | None = Field(
        default=None,
        max_length=40,
        description="NetSuite: the service item's internal id (the sandbox's without a URL).",
    )

    requests_per_window: int | None = Field(
        default=None,
        ge=1,
        description="Requests the ERP allows per window (the vendor's default when unset).",
    )
    window_seconds: float | None = Field(
        default=None, gt=0, description="Length of that sliding window (vendor's default)."
    )
    max_concurrent_requests: int | None = Field(
        default=None, ge=1, description="Requests in flight at once (vendor's default)."
    )
    operations_per_batch: int | None = Field(
        default=None, ge=1, description="Operations in one batch request (vendor's default)."
    )
    batch_counted_as: BatchCounting | None = Field(
        default=None,
        description="How the ERP counts a batch in its window: as one `request`, or as "
        "its `operations` (the stricter reading; vendor's default when unset).",
    )
    budget_wait_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a call waits for the shared budget before it fails as "
        "transient (the run is queued, not lost).",
    )
    interactive_reserve: float = Field(
        default=0.1,
        ge=0,
        lt=0.5,
        description="The share of the window and of the concurrency that bulk work (posting "
        "batches) leaves to postings a caller waits on; informational work leaves twice it.",
    )

    @property
    def limits(self) -> ErpLimits:
        """The vendor's published limits, with what this connection overrides."""
        vendor = VENDOR_LIMITS[self.kind]
        overrides = {
            name: value
            for name in ErpLimits.model_fields
            if (value := getattr(self, name)) is not None
        }
        return vendor.model_copy(update=overrides)

    @model_validator(mode="after")
    def _netsuite_needs_its_line_item(self) -> ErpSettings:
        if self.kind == "netsuite" and self.url and not self.netsuite_line_item_id:
            raise ValueError("a NetSuite connection with a url needs netsuite_line_item_id")
        return self


STRIPE_REQUESTS_PER_SECOND = {"live": 100, "test": 25}
"""Stripe "Rate limits": 100 read and 100 write requests per second in live mode, 25 of
each in test mode (sandboxes); counted apart for reads and writes."""


class BillingSettings(BackendSettings):
    """Stripe: `url` is the API root (`https://api.stripe.com`).

    Its limits are two budgets shared by every worker and replica, as the ERP's (one
    for reads, one for writes); the mode of `api_key` picks Stripe's defaults.
    """

    api_key: SecretStr = SecretStr("sk_test_sandbox")
    api_version: str = "2020-08-27"
    webhook_secret: SecretStr = SecretStr("whsec_sandbox")
    webhook_tolerance_seconds: int = Field(
        default=300, ge=1, le=3600, description="How old a signed webhook delivery may be."
    )
    budget_enabled: bool | None = Field(
        default=None,
        description="Take every request from the shared budgets (None: when `url` is set; "
        "the in-process sandbox counts no limit).",
    )
    read_requests_per_second: int | None = Field(
        default=None, ge=1, description="Reads Stripe allows per second (Stripe's by key mode)."
    )
    write_requests_per_second: int | None = Field(
        default=None, ge=1, description="Writes Stripe allows per second (Stripe's by key mode)."
    )
    budget_wait_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a call waits for the shared budget before it fails as transient.",
    )
    interactive_reserve: float = Field(
        default=0.1,
        ge=0,
        lt=0.5,
        description="The share of each budget informational work (usage reports) leaves "
        "to live work, halved for bulk work.",
    )

    @property
    def budgeted(self) -> bool:
        return self.url is not None if self.budget_enabled is None else self.budget_enabled

    @property
    def mode(self) -> Literal["live", "test"]:
        """Stripe's mode, from the secret or restricted key's prefix."""
        key = self.api_key.get_secret_value()
        return "live" if key.startswith(("sk_live_", "rk_live_")) else "test"

    def limits(self, *, write: bool) -> ErpLimits:
        """One of the two budgets: a one-second window, concurrency capped by the pool."""
        configured = self.write_requests_per_second if write else self.read_requests_per_second
        per_second = configured or STRIPE_REQUESTS_PER_SECOND[self.mode]
        return ErpLimits(
            requests_per_window=per_second,
            window_seconds=1.0,
            max_concurrent_requests=min(per_second, self.max_connections),
        )


class CrmSettings(BackendSettings):
    """The CRM / channel platform (Channel API v1): `url` is the API root ending in `/api/v1`."""

    access_token: SecretStr = SecretStr("sandbox-token")
    webhook_secret: SecretStr = SecretStr("whsec_sandbox")
    webhook_tolerance_seconds: int = Field(
        default=300, ge=1, le=3600, description="How old a signed CRM event delivery may be."
    )


class SupportSettings(BackendSettings):
    """The support desk (Desk API v2): `url` is the API root ending in `/desk/v2`."""

    api_token: SecretStr = SecretStr("sandbox-token")


class AuthSettings(BaseModel):
    """Token issuance and verification."""

    issuer: str = DEVELOPMENT_ISSUER
    audience: str = "ledgergate-api"
    token_ttl: timedelta = Field(default=timedelta(minutes=15))
    algorithm: Literal["ES256", "RS256"] = "ES256"
    clock_skew_seconds: int = Field(default=30, ge=0, le=300)
    key_refresh_seconds: int = Field(default=60, ge=1)
    client_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a client's grant (scopes, partner, money limits) may be served "
        "from memory; a revoked scope stops working within this window. A client disabled "
        "with `ledgergate clients disable` is refused on its next request; a status changed "
        "in the database by other means, within this window where limits count in Redis.",
    )
    key_encryption_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s) that encrypt the token signing keys at rest, comma-separated "
        "newest first (older ones still decrypt, for a rotation). Required in production.",
    )
    key_encryption_key_file: Path | None = Field(
        default=None,
        description="A mounted secret file holding `key_encryption_key` (used when that is unset).",
    )
    # An external identity provider whose tokens are accepted as well (all three, or none).
    external_issuer: str | None = None
    external_audience: str | None = None
    external_jwks_url: str | None = None
    external_jwks_cache_seconds: int = Field(default=300, ge=1)
    external_jwks_min_refetch_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Least time between key-set fetches caused by a token with an unknown "
        "`kid`; such tokens are refused in between.",
    )
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

    def key_encryption_keys(self) -> list[str]:
        """The configured key-encryption keys, newest first (none when unset)."""
        if self.key_encryption_key is not None:
            raw = self.key_encryption_key.get_secret_value()
        elif self.key_encryption_key_file is not None:
            raw = self.key_encryption_key_file.read_text()
        else:
            return []
        return [key.strip() for key in raw.replace("\n", ",").split(",") if key.strip()]


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
    failed_auth: str = Field(
        default="20/minute",
        description="Failed authentications per client IP; past it the address is refused "
        "(429) before its tokens are even checked, until the window frees up.",
    )
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


class ReconciliationSettings(BaseModel):
    """When the worker reconciles on its own, and how much of a report an answer shows."""

    schedule_enabled: bool = Field(
        default=True,
        description="The worker reconciles every legal entity's previous and current month "
        "once a day.",
    )
    daily_at_hour: int = Field(
        default=2, ge=0, le=23, description="The UTC hour from which the day's runs are due."
    )
    report_differences: int = Field(
        default=1000,
        ge=0,
        description="Differences shown in an answer; every one is kept with the run.",
    )


class RefundPolicy(StrEnum):
    """How a legal entity books a refund of a paid invoice in its ERP."""

    # A credit memo applied to the invoice and a customer refund paying the money out.
    CREDIT_MEMO_AND_REFUND = "credit_memo_and_refund"
    # The credit memo alone, left open as the customer's credit, which treasury pays out
    # from the bank statement.
    CREDIT_MEMO = "credit_memo"


class DisputeAccounts(BaseModel):
    """Where a lost dispute is booked: the charge written off, and billing's fee."""

    write_off: str = Field(default="68100", max_length=20)
    fee: str = Field(default="68200", max_length=20)


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
            "Per legal-entity country, the ERP tax group of a billed line (or an amendment's "
            "proration) billing charged no tax on: billing is the tax engine, and the ERP "
            "books what the customer owes."
        ),
    )
    refund_policies: dict[str, RefundPolicy] = Field(
        default_factory=dict,
        description="Per legal-entity code, how a refund of a paid invoice is booked: "
        "`credit_memo_and_refund` (a credit memo applied to the invoice and a customer "
        "refund; an entity not listed) or `credit_memo` (the credit memo alone, left open as "
        "the customer's credit that treasury pays out from the bank statement).",
    )
    dispute_journal: str = Field(default="LGDISPUTE", max_length=10)
    dispute_accounts: dict[str, DisputeAccounts] = Field(
        default_factory=dict,
        description="Per legal-entity code, the G/L accounts of a lost dispute's write-off "
        "and fee; an entity not listed books both to the defaults (`68100`, `68200`).",
    )
    totals_tolerance: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict,
        description="Per currency, the rounding difference in minor units allowed between "
        "the ERP's subtotal, tax or total of a posted invoice and ours; a currency not "
        "listed allows none. A larger difference fails the posting (`erp-totals-mismatch`), "
        "or an amendment's adjustment against billing's (`amendment-erp-totals-mismatch`).",
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


class RevenueAccounts(BaseModel):
    """The G/L accounts a billed line is deferred to and recognized into."""

    model_config = ConfigDict(extra="forbid")

    deferred: str = Field(max_length=20)
    revenue: str = Field(max_length=20)


class RevenueSettings(BaseModel):
    """Revenue recognition: where it is booked in the ERP, and the worker's monthly run."""

    journal: str = Field(
        default="LGREVREC", max_length=10, description="The ERP journal of recognition entries."
    )
    deferred_account: str = Field(default="24000", max_length=20)
    revenue_account: str = Field(default="40100", max_length=20)
    accounts: dict[str, RevenueAccounts] = Field(
        default_factory=dict,
        description="Accounts per legal entity code (`LG-US`) or per legal entity and product "
        "(`LG-US:prod_...`), the latter first; the default pair otherwise.",
    )
    schedule_enabled: bool = Field(
        default=True, description="The worker recognizes the previous month once a month."
    )
    schedule_day: int = Field(
        default=1,
        ge=1,
        le=28,
        description="Day of the month from which the worker recognizes the previous month.",
    )

    def accounts_for(self, legal_entity_code: str, product_id: str | None) -> RevenueAccounts:
        """The accounts of a line: its legal entity's and product's, its legal entity's, or
        the default pair."""
        default = RevenueAccounts(deferred=self.deferred_account, revenue=self.revenue_account)
        by_product = self.accounts.get(f"{legal_entity_code}:{product_id}") if product_id else None
        return by_product or self.accounts.get(legal_entity_code) or default


def _default_retry_schedule() -> list[int]:
    return [5, 300, 1800, 7200, 18000, 36000, 36000]


class WebhookSettings(BaseModel):
    """Outbound webhooks: delivery timing, endpoint health and the SSRF guard."""

    timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="How long one delivery attempt may take."
    )
    retry_schedule_seconds: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=_default_retry_schedule,
        min_length=1,
        description="Waits before each retry after a failed first attempt (±10 % jitter).",
    )
    secret_rotation_grace: timedelta = Field(
        default=timedelta(hours=24),
        ge=timedelta(0),
        description="How long a rotated-out secret still signs deliveries beside the new one.",
    )
    disable_after_failures: int = Field(
        default=10, ge=1, description="Consecutive failed attempts before an endpoint is disabled."
    )
    disable_after: timedelta = Field(
        default=timedelta(days=1),
        ge=timedelta(0),
        description="How long an endpoint must have been failing before it is disabled.",
    )
    allow_private_addresses: bool = Field(
        default=False,
        description="Deliver to loopback, private, link-local and CGNAT addresses (tests, "
        "development); cloud metadata addresses stay refused.",
    )
    batch_size: int = Field(
        default=500, ge=1, le=1000, description="Messages one delivery pass claims."
    )
    endpoint_concurrency: int = Field(
        default=4,
        ge=1,
        le=100,
        description="Deliveries in flight at once to one endpoint host, each on a kept-alive "
        "connection of its own.",
    )


class EventSettings(BaseModel):
    """The event relay and its broker: NATS JetStream, off unless a URL is set."""

    relay_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How long the relay waits between passes when nothing is recorded "
        "(on PostgreSQL a recorded event wakes it at once).",
    )
    relay_batch: int = Field(default=500, ge=1, le=10_000, description="Events per batch.")
    nats_url: str | None = Field(
        default=None, description="NATS server with JetStream; unset: no broker."
    )
    nats_stream_prefix: str = Field(
        default="ledgergate",
        pattern=r"^[a-z][a-z0-9_]{0,30}$",
        description="First token of every subject (`ledgergate.invoice.posted`) and, in "
        "capitals, of every stream name (`LEDGERGATE_INVOICE`).",
    )
    nats_duplicate_window: timedelta = Field(
        default=timedelta(minutes=2),
        description="How long each stream remembers a message id, to drop a re-publish.",
    )


class UsageSettings(BaseModel):
    """Usage events: how late they still count in their own period, how long they are kept."""

    late_grace: timedelta = Field(
        default=timedelta(days=1),
        ge=timedelta(0),
        description="How long after a billing period ends its usage still counts in it; "
        "later events are accepted and marked `late`.",
    )
    retention: timedelta = Field(
        default=timedelta(days=400),
        ge=timedelta(days=1),
        description="How long usage events are kept after their period ends; then purged.",
    )
    purge_batch: int = Field(
        default=10_000, ge=1, le=100_000, description="Usage events one purge statement deletes."
    )
    report_interval: timedelta = Field(
        default=timedelta(hours=1),
        ge=timedelta(seconds=1),
        description="How often each subscription item's usage is reported to billing; in the "
        "last interval of a billing period, on every worker pass.",
    )
    report_batch: int = Field(
        default=200, ge=1, le=10_000, description="Subscription items one reporting pass takes."
    )


class ConsoleSettings(BaseModel):
    """The finance operations console (`/console`) and how people sign in to it."""

    session_ttl: timedelta = Field(
        default=timedelta(hours=8), description="How long a console sign-in lasts."
    )
    secure_cookie: bool | None = Field(
        default=None,
        description="Mark the session cookie `Secure` (HTTPS only); default: in production.",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="The organization's OpenID Connect issuer; when set, people sign in there "
        "(authorization code with PKCE) instead of as local operators.",
    )
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_redirect_uri: str | None = Field(
        default=None,
        description="The callback URL registered at the identity provider; default: "
        "`/console/oidc/callback` on the address the browser used.",
    )
    oidc_role_claim: str = Field(
        default="roles", description="The ID token claim listing the person's groups or roles."
    )
    oidc_role_mapping: dict[str, str] = Field(
        default_factory=dict,
        description='Identity-provider roles to console roles, e.g. `{"finance-ops": '
        '"operator", "finance-viewers": "viewer"}`; the strongest match wins.',
    )
    oidc_name_claim: str = "preferred_username"

    @model_validator(mode="after")
    def _oidc_client_with_issuer(self) -> ConsoleSettings:
        if self.oidc_issuer and not self.oidc_client_id:
            raise ValueError("set console oidc_client_id with oidc_issuer")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return self.oidc_issuer is not None


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
        description="Requests one worker process handles at once, counted once their body "
        "has arrived; more are refused at once with a 503 `overloaded` problem (probes and "
        "/metrics exempt). 0: no limit.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    request_header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a connection may take to send a request's headers; then it is "
        "closed (`ledgergate serve`).",
    )
    request_body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a request may take to send its whole body; then a 408 problem.",
    )
    max_uploads_per_client: int = Field(
        default=8,
        ge=1,
        description="Request bodies one client address may be sending at once; more are "
        "refused with a 429 `too-many-uploads` problem.",
    )
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
    background_work: bool | None = Field(
        default=None,
        description="Whether `ledgergate serve` runs the background work (retries, the webhook "
        "inbox, purges) in process; on in development, off elsewhere, where `ledgergate worker` "
        "runs beside the gateway.",
    )
    worker_metrics_port: int = Field(
        default=9464,
        ge=0,
        le=65535,
        description="Where `ledgergate worker` serves its Prometheus metrics (on `host`); 0: "
        "not served.",
    )
    worker_interval_seconds: float = Field(
        default=5.0, gt=0, description="How long background work sleeps when nothing is due."
    )
    docs_enabled: bool | None = None
    dunning_grace_days: int = Field(
        default=14,
        ge=0,
        le=365,
        description="Days a customer in dunning keeps its account before it is suspended, "
        "where its legal entity sets none (`dunning_grace_days` in reference data).",
    )
    order_credit_policy: Literal["refuse", "hold"] = Field(
        default="refuse",
        description="What an accepted quote whose customer fails the ERP's credit check "
        "becomes: `refuse` answers `422 customer-credit-refused` and rejects the order, `hold` "
        "answers `422 customer-credit-held` and keeps it in the exception queue for finance.",
    )
    order_sync_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How often the worker reads an open sales order back from the ERP to keep "
        "its status in sync (and to hand it over to subscription ordering once its service "
        "starts).",
    )
    metrics_scope_required: bool | None = Field(
        default=None,
        description="`/metrics` answers only a bearer token holding `metrics:read` "
        "(it names every client and its traffic); default: in production only.",
    )
    auth: AuthSettings = AuthSettings()
    rate_limit_storage_url: str = Field(
        default="memory://",
        description="`memory://` (one process) or `redis://host:6379/0` (shared by replicas).",
    )
    rate_limit_failure_mode: Literal["open", "closed"] | None = Field(
        default=None,
        description="When the rate-limit store (Redis) cannot be reached: `open` lets "
        "requests through unlimited, `closed` refuses them with a 503 "
        "`rate-limiter-unavailable` problem. Default: closed in production, open elsewhere.",
    )
    rate_limits: RateLimitSettings = RateLimitSettings()
    readiness_probe_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often the database, backends and Redis are checked in the "
        "background; `/readyz` serves the last result.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API; none by default.",
    )
    erp: ErpSettings = Field(
        default_factory=ErpSettings, description="The `default` ERP connection."
    )
    erp_connections: dict[str, ErpSettings] = Field(
        default_factory=dict,
        description="Further ERP connections by name (`LEDGERGATE_ERP_CONNECTIONS__EMEA__KIND`); "
        "each legal entity names the one it posts through.",
    )
    billing: BillingSettings = BillingSettings()
    crm: CrmSettings = CrmSettings()
    support: SupportSettings = SupportSettings()
    versioning: VersioningSettings = VersioningSettings()
    credit_memos: CreditMemoSettings = CreditMemoSettings()
    ledger: LedgerSettings = LedgerSettings()
    reconciliation: ReconciliationSettings = ReconciliationSettings()
    settlements: SettlementSettings = SettlementSettings()
    revenue: RevenueSettings = RevenueSettings()
    webhooks: WebhookSettings = WebhookSettings()
    events: EventSettings = EventSettings()
    usage: UsageSettings = UsageSettings()
    console: ConsoleSettings = ConsoleSettings()

    @property
    def serves_docs(self) -> bool:
        """Swagger UI, ReDoc and the OpenAPI document: off in production unless asked for."""
        return self.environment != "production" if self.docs_enabled is None else self.docs_enabled

    @property
    def console_cookie_secure(self) -> bool:
        secure = self.console.secure_cookie
        return self.environment == "production" if secure is None else secure

    @property
    def runs_background_work(self) -> bool:
        if self.background_work is None:
            return self.environment == "development"
        return self.background_work

    @property
    def erp_connection_settings(self) -> dict[str, ErpSettings]:
        """Every ERP connection by name, `default` (`LEDGERGATE_ERP__*`) first.

        In development on the built-in ERP sandbox (no `LEDGERGATE_ERP__URL`), also
        `netsuite`, the built-in NetSuite sandbox the demo estate books its German entity
        on, unless a connection of that name is configured.
        """
        demo = (
            {DEMO_NETSUITE_CONNECTION: ErpSettings(kind="netsuite")}
            if self.environment == "development" and self.erp.url is None
            else {}
        )
        return {DEFAULT_ERP_CONNECTION: self.erp, **demo, **self.erp_connections}

    @property
    def metrics_need_scope(self) -> bool:
        if self.metrics_scope_required is None:
            return self.environment == "production"
        return self.metrics_scope_required

    @property
    def rate_limits_fail_open(self) -> bool:
        if self.rate_limit_failure_mode is None:
            return self.environment != "production"
        return self.rate_limit_failure_mode == "open"

    @property
    def should_seed_demo_data(self) -> bool:
        if self.seed_demo_data is None:
            return self.environment == "development"
        return self.seed_demo_data

    def backends(self) -> list[tuple[str, BackendSettings]]:
        """Every backend's settings, by the name of its settings section."""
        sections = [
            (name, value)
            for name in type(self).model_fields
            if isinstance(value := getattr(self, name), BackendSettings)
        ]
        connections = [
            (f"erp_connections__{key}", erp) for key, erp in self.erp_connections.items()
        ]
        return sections + connections

    @property
    def should_seed_demo_clients(self) -> bool:
        """The demo clients' secrets are public: development only, whatever else is asked."""
        return self.should_seed_demo_data and self.environment == "development"

    @model_validator(mode="after")
    def _refuse_what_production_cannot_run_on(self) -> Settings:
        if self.environment != "production":
            return self
        problems = production_problems(self)
        if self.seed_demo_data:
            problems.append(
                f"{env_name('seed_demo_data')} is on: load reference data with "
                "`ledgergate refdata import` instead (the demo clients' secrets are public)"
            )
        if problems:
            count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
            raise ValueError(
                f"production configuration refused, {count}:\n  - " + "\n  - ".join(problems)
            )
        return self


def env_name(*path: str) -> str:
    """The environment variable of a setting: `env_name("erp", "url")` is `LEDGERGATE_ERP__URL`."""
    return "LEDGERGATE_" + "__".join(path).upper()


def production_problems(settings: Settings) -> list[str]:
    """Everything that keeps `settings` from running as production replicas, each a sentence."""
    problems: list[str] = []
    if settings.database_url.startswith("sqlite"):
        problems.append(
            f"{env_name('database_url')} is SQLite, a file one process owns: replicas share "
            "PostgreSQL (postgresql+asyncpg://user:password@host:5432/ledgergate)"
        )
    if settings.rate_limits.enabled and settings.rate_limit_storage_url.startswith("memory://"):
        problems.append(
            f"{env_name('rate_limit_storage_url')} is memory://, so each replica counts on its "
            "own: share the limits in Redis (redis://host:6379/0)"
        )
    kek = settings.auth.key_encryption_keys()
    if not kek or DEVELOPMENT_KEY_ENCRYPTION_KEY in kek:
        problems.append(
            f"{env_name('auth', 'key_encryption_key')} (or its _FILE) is not set or is the "
            "public development key: the token signing keys are encrypted at rest under it"
        )
    if settings.auth.issuer == DEVELOPMENT_ISSUER:
        problems.append(
            f"{env_name('auth', 'issuer')} is the development default {DEVELOPMENT_ISSUER}: "
            "set the gateway's public URL"
        )
    for name, backend in settings.backends():
        for field in type(backend).model_fields:
            secret = getattr(backend, field)
            if isinstance(secret, SecretStr) and secret.get_secret_value() in PLACEHOLDER_SECRETS:
                problems.append(
                    f"{env_name(name, field)} is the sandbox's placeholder secret: set the real one"
                )
        if backend.url is None:
            problems.append(
                f"{env_name(name, 'url')} is not set, which means the built-in {name} sandbox: "
                "set the real endpoint"
            )
        elif not backend.url.startswith("https://"):
            problems.append(
                f"{env_name(name, 'url')} is not https://, so credentials and financial data "
                "would cross the network in clear"
            )
    return problems


@lru_cache
def get_settings() -> Settings:
    return Settings()
