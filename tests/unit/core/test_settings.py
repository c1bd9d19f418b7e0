from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import DEVELOPMENT_KEY_ENCRYPTION_KEY, Settings


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


def test_production_refuses_placeholder_secrets_and_sandboxes() -> None:
    with pytest.raises(ValidationError, match="placeholder secrets"):
        Settings(_env_file=None, environment="production")  # type: ignore[call-arg]


def test_production_refuses_to_start_without_a_key_encryption_key() -> None:
    real = {
        "environment": "production",
        "erp": {"url": "https://erp.example/api/v1.0", "access_token": "t"},
        "billing": {"url": "https://api.stripe.com", "api_key": "sk_live_x", "webhook_secret": "w"},
        "crm": {"url": "https://crm.example/api/v1", "access_token": "t"},
        "support": {"url": "https://desk.example/desk/v2", "api_token": "t"},
    }
    with pytest.raises(ValidationError, match="key_encryption_key"):
        Settings(_env_file=None, **real)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="key_encryption_key"):
        Settings(  # type: ignore[arg-type]
            _env_file=None, **real, auth={"key_encryption_key": DEVELOPMENT_KEY_ENCRYPTION_KEY}
        )


def test_the_key_encryption_key_may_come_from_a_mounted_file(tmp_path: Path) -> None:
    secret = tmp_path / "kek"
    secret.write_text("new-key,old-key\n")
    settings = Settings(_env_file=None, auth={"key_encryption_key_file": secret})  # type: ignore[call-arg]
    assert settings.auth.key_encryption_keys() == ["new-key", "old-key"]


def test_production_accepts_real_configuration() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="production",
        erp={"url": "https://erp.example/api/v1.0", "access_token": "real-token"},
        billing={
            "url": "https://api.stripe.com",
            "api_key": "sk_live_x",
            "webhook_secret": "whsec_x",
        },
        crm={"url": "https://crm.example/api/v1", "access_token": "real-token"},
        support={"url": "https://desk.example/desk/v2", "api_token": "real-token"},
        auth={"key_encryption_key": "x0sQ5c1yYH3G0aX3mJ3v5m6oVh8f0b2kq9Jc2mXy1Zk="},
    )
    assert not settings.should_seed_demo_data
