"""`ledgergate refdata`: a first load from YAML and CSV, reads, and versioned changes."""

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from app.cli import app
from core.settings import get_settings

OPERATOR = "ada.refdata"
runner = CliRunner(env={"COLUMNS": "200", "LEDGERGATE_OPERATOR": OPERATOR})

FIRST_LOAD = """
legal_entities:
  - code: LG-UK
    name: Ledgergate UK Ltd
    country: GB
    functional_currency: GBP
    closed_period_policy: roll_forward
    erp_company_id: uk-company
periods:
  - {legal_entity: LG-UK, starts_on: 2027-01-01, ends_on: 2027-01-31, status: closed}
  - {legal_entity: LG-UK, starts_on: 2027-02-01, ends_on: 2027-02-28}
tax_codes:
  - {legal_entity: LG-UK, tax_code: STANDARD, erp_tax_code: UK-STD}
partners:
  - {name: Contoso Channel, commission_plan: reseller-20}
products:
  - {name: Ledgergate Team, tier: team, tax_code: STANDARD, erp_item: I-100}
prices:
  - {product: Ledgergate Team, currency: GBP, unit_amount: 2500, interval: month}
"""


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "refdata.db"
    monkeypatch.setenv("LEDGERGATE_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    get_settings.cache_clear()
    yield path  # type: ignore[misc]
    get_settings.cache_clear()


def listed(kind: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["refdata", "list", kind, "--output", "json"])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_a_yaml_first_load_creates_everything_once(database: Path, tmp_path: Path) -> None:
    file = tmp_path / "first-load.yaml"
    file.write_text(FIRST_LOAD)
    loaded = runner.invoke(app, ["refdata", "import", str(file)])
    assert loaded.exit_code == 0, loaded.output
    (entity,) = listed("legal-entities")
    assert (entity["code"], entity["functional_currency"]) == ("LG-UK", "GBP")
    assert [(p["starts_on"], p["status"]) for p in entity["periods"]] == [  # type: ignore[attr-defined]
        ("2027-01-01", "closed"),
        ("2027-02-01", "open"),
    ]
    assert entity["tax_codes"] == [{"tax_code": "STANDARD", "erp_tax_code": "UK-STD"}]
    (product,) = listed("products")
    assert product["refs"] == {"billing": None, "erp": "I-100", "crm": None}
    (price,) = listed("prices")
    assert (price["product_id"], price["unit_amount"]) == (product["id"], 2500)
    again = runner.invoke(app, ["refdata", "import", str(file)])
    assert again.exit_code == 0, again.output
    assert len(listed("partners")) == 1
    assert len(listed("prices")) == 1
    with create_engine(f"sqlite:///{database}").connect() as connection:
        actions = connection.execute(text("SELECT action, client_id FROM audit_events")).all()
    assert [a for a, _ in actions] == ["CLI refdata import first-load.yaml"] * 2
    assert all(client == OPERATOR for _, client in actions)


def test_a_csv_file_holds_one_list_named_by_its_stem(database: Path, tmp_path: Path) -> None:
    file = tmp_path / "partners.csv"
    file.write_text(
        "name,commission_plan,status\nContoso,reseller-20,active\nAdatum,referral-10,\n"
    )
    loaded = runner.invoke(app, ["refdata", "import", str(file)])
    assert loaded.exit_code == 0, loaded.output
    assert sorted(str(p["name"]) for p in listed("partners")) == ["Adatum", "Contoso"]
    other = tmp_path / "load.csv"
    other.write_text("name\nX\n")
    unnamed = runner.invoke(app, ["refdata", "import", str(other)])
    assert unnamed.exit_code == 1
    assert "unreadable-reference-data-file" in unnamed.output


def test_a_bad_row_loads_nothing_and_says_where(database: Path, tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(FIRST_LOAD.replace("currency: GBP, unit_amount: 2500", "currency: GBP"))
    failed = runner.invoke(app, ["refdata", "import", str(file)])
    assert failed.exit_code == 1
    assert "prices.0.unit_amount" in failed.output
    assert listed("legal-entities") == []


def test_changes_name_the_version_they_were_made_against(database: Path) -> None:
    created = runner.invoke(
        app,
        ["refdata", "create", "products", "--set", "name=Team", "--set", "tier=team"]
        + ["--set", "tax_code=STANDARD"],
    )
    assert created.exit_code == 0, created.output
    (product,) = listed("products")
    stale = runner.invoke(
        app,
        ["refdata", "update", "products", str(product["id"]), "--set", "active=false"]
        + ["--if-match", "2"],
    )
    assert stale.exit_code == 1
    assert "precondition-failed" in stale.output
    changed = runner.invoke(
        app,
        ["refdata", "update", "products", str(product["id"]), "--set", "active=false"]
        + ["--if-match", "1"],
    )
    assert changed.exit_code == 0, changed.output
    assert json.loads(changed.stdout)["active"] is False
    assert json.loads(changed.stdout)["version"] == 2


def test_periods_close_and_reopen_with_a_reason(database: Path, tmp_path: Path) -> None:
    file = tmp_path / "load.yaml"
    file.write_text(FIRST_LOAD)
    assert runner.invoke(app, ["refdata", "import", str(file)]).exit_code == 0
    (entity,) = listed("legal-entities")
    closed = entity["periods"][0]["id"]  # type: ignore[index]
    reopened = runner.invoke(
        app,
        ["refdata", "reopen-period", str(entity["id"]), closed, "--reason", "audit adjustment"]
        + ["--if-match", str(entity["version"])],
    )
    assert reopened.exit_code == 0, reopened.output
    shown = runner.invoke(app, ["refdata", "show", "legal-entities", str(entity["id"])])
    period = json.loads(shown.stdout)["periods"][0]
    assert (period["status"], period["status_reason"]) == ("open", "audit adjustment")


def audit_rows(database: Path) -> list[tuple[str, str, str | None, str, int]]:
    with create_engine(f"sqlite:///{database}").connect() as connection:
        rows = connection.execute(
            text(
                "SELECT action, client_id, object_id, outcome, status_code FROM audit_events "
                "ORDER BY occurred_at, id"
            )
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_change_names_its_operator_like_every_other_command(database: Path) -> None:
    create = ["refdata", "create", "partners", "--set", "name=Adatum"]
    create += ["--set", "commission_plan=referral-10"]
    unnamed = runner.invoke(app, create, env={"LEDGERGATE_OPERATOR": None})
    assert unnamed.exit_code == 2
    assert "--operator" in unnamed.output
    assert listed("partners") == []
    named = runner.invoke(app, [*create, "--operator", "grace"])
    assert named.exit_code == 0, named.output
    (partner,) = listed("partners")
    update = ["refdata", "update", "partners", str(partner["id"]), "--set", "name=Adatum Ltd"]
    stale = runner.invoke(app, [*update, "--if-match", "7"])
    assert stale.exit_code == 1
    assert audit_rows(database) == [
        ("CLI refdata create partners", "grace", None, "succeeded", 200),
        ("CLI refdata update partners", OPERATOR, partner["id"], "rejected", 412),
    ]
