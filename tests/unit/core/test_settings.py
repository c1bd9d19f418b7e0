from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import DEVELOPMENT_KEY_ENCRYPTION_KEY, Settings
from tests.support.production import PRODUCTION


def test_defaults_are_the_embedded_development_setup() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url.startswith("sqlite+aiosqlite://")
    assert settings.erp.url is None
    assert settings.billing.url is None
    assert settings.should_seed_demo_data


def test_environment_variables_use_the_prefix_and_nest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGERGATE_ERP__URL", "https://erp.example/api/v1.0")
    monkeypatch.setenv("LEDGERGATE_ERP__RETRY_ATTEMPTS", "5")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.erp.url == "https://erp.example/api/v1.0"
    assert settings.erp.retry_attempts == 5


def test_secrets_are_never_rendered() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert "sk_test_sandbox" not in repr(settings)
    assert "sk_test_sandbox" not in str(settings.model_dump())


def refusal(**values: object) -> str:
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None, **values)  # type: ignore[arg-type]
    return str(raised.value)


def test_production_lists_everything_that_is_wrong_at_once() -> None:
    message = refusal(environment="production")

    for problem in (
        "LEDGERGATE_DATABASE_URL",
        "SQLite",
        "LEDGERGATE_RATE_LIMIT_STORAGE_URL",
        "memory://",
        "LEDGERGATE_AUTH__ISSUER",
        "LEDGERGATE_AUTH__KEY_ENCRYPTION_KEY",
        "LEDGERGATE_ERP__ACCESS_TOKEN",
        "LEDGERGATE_BILLING__API_KEY",
        "LEDGERGATE_BILLING__WEBHOOK_SECRET",
        "LEDGERGATE_CRM__ACCESS_TOKEN",
        "LEDGERGATE_CRM__WEBHOOK_SECRET",
        "LEDGERGATE_SUPPORT__API_TOKEN",
        "LEDGERGATE_ERP__URL",
        "LEDGERGATE_BILLING__URL",
        "LEDGERGATE_CRM__URL",
        "LEDGERGATE_SUPPORT__URL",
    ):
        assert problem in message
    assert "14 problems" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"database_url": "sqlite+aiosqlite:///./var/prod.db"}, "LEDGERGATE_DATABASE_URL"),
        ({"rate_limit_storage_url": "memory://"}, "LEDGERGATE_RATE_LIMIT_STORAGE_URL"),
        ({"crm": {**PRODUCTION["crm"], "url": None}}, "LEDGERGATE_CRM__URL"),
        ({"erp": {**PRODUCTION["erp"], "url": "http://erp.example/api/v1.0"}}, "https"),
        ({"support": {**PRODUCTION["support"], "api_token": "sandbox-token"}}, "placeholder"),
        (
            {"auth": {"key_encryption_key": PRODUCTION["auth"]["key_encryption_key"]}},
            "LEDGERGATE_AUTH__ISSUER",
        ),
    ],
)
def test_production_refuses_each_misconfiguration(change: dict[str, object], expected: str) -> None:
    message = refusal(**{**PRODUCTION, **change})

    assert expected in message
    assert "1 problem" in message


def test_in_memory_rate_limits_are_fine_when_rate_limiting_is_off() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        **{**PRODUCTION, "rate_limit_storage_url": "memory://", "rate_limits": {"enabled": False}},
    )
    assert settings.environment == "production"


def test_production_accepts_a_replica_ready_configuration() -> None:
    settings = Settings(_env_file=None, **PRODUCTION)  # type: ignore[arg-type]
    assert not settings.should_seed_demo_data


def test_erp_connections_are_named_and_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGERGATE_ERP_CONNECTIONS__EMEA__KIND", "netsuite")
    monkeypatch.setenv("LEDGERGATE_ERP_CONNECTIONS__EMEA__URL", "https://1.suitetalk.example")
    monkeypatch.setenv("LEDGERGATE_ERP_CONNECTIONS__EMEA__NETSUITE_LINE_ITEM_ID", "20")
    settings = Settings(_env_file=None, environment="test")  # type: ignore[call-arg]
    connections = settings.erp_connection_settings
    assert list(connections) == ["default", "emea"]
    assert (connections["default"].kind, connections["emea"].kind) == (
        "business_central",
        "netsuite",
    )


def test_development_adds_the_demo_estate_s_netsuite_sandbox_unless_configured() -> None:
    development = Settings(_env_file=None).erp_connection_settings  # type: ignore[call-arg]
    own = {"netsuite": {"kind": "netsuite", "url": "https://x", "netsuite_line_item_id": "7"}}
    configured = Settings(_env_file=None, erp_connections=own).erp_connection_settings  # type: ignore[call-arg]
    test = Settings(_env_file=None, environment="test").erp_connection_settings  # type: ignore[call-arg]
    shared = Settings(_env_file=None, erp={"url": "http://erp.test"}).erp_connection_settings  # type: ignore[call-arg]

    assert list(development) == ["default", "netsuite"]
    assert list(shared) == ["default"]  # the demo pairs sandboxes: a shared ERP has none
    assert (development["netsuite"].kind, development["netsuite"].url) == ("netsuite", None)
    assert configured["netsuite"].netsuite_line_item_id == "7"
    assert list(test) == ["default"]


def test_a_netsuite_connection_with_a_url_needs_its_line_item() -> None:
    with pytest.raises(ValidationError, match="netsuite_line_item_id"):
        Settings(  # type: ignore[call-arg]
            _env_file=None, erp_connections={"emea": {"kind": "netsuite", "url": "https://x"}}
        )


def test_production_checks_every_erp_connection() -> None:
    emea = {"kind": "netsuite", "url": "https://x", "netsuite_line_item_id": "20"}
    message = refusal(**{**PRODUCTION, "erp_connections": {"emea": emea}})

    assert "LEDGERGATE_ERP_CONNECTIONS__EMEA__ACCESS_TOKEN" in message
    assert "1 problem" in message


def test_production_refuses_a_missing_or_public_key_encryption_key() -> None:
    for auth in (
        {"issuer": PRODUCTION["auth"]["issuer"]},
        {**PRODUCTION["auth"], "key_encryption_key": DEVELOPMENT_KEY_ENCRYPTION_KEY},
    ):
        message = refusal(**{**PRODUCTION, "auth": auth})
        assert "LEDGERGATE_AUTH__KEY_ENCRYPTION_KEY" in message
        assert "1 problem" in message


def test_the_key_encryption_key_may_come_from_a_mounted_file(tmp_path: Path) -> None:
    secret = tmp_path / "kek"
    secret.write_text("new-key,old-key\n")
    settings = Settings(_env_file=None, auth={"key_encryption_key_file": secret})  # type: ignore[call-arg]
    assert settings.auth.key_encryption_keys() == ["new-key", "old-key"]
