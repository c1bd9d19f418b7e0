"""`fit`: text cut to the length a backend schema declares for the field."""

from core.canonical.base import fit
from system_apis.erp.schemas import ErpCustomerUpsert, ErpInvoiceLine


def test_text_is_cut_to_the_schemas_limit() -> None:
    assert fit(ErpInvoiceLine, "description", "x" * 150) == "x" * 100
    assert fit(ErpCustomerUpsert, "email", "a" * 90) == "a" * 80


def test_text_within_the_limit_and_unlimited_fields_are_kept() -> None:
    assert fit(ErpInvoiceLine, "description", "Seat") == "Seat"
    assert fit(ErpCustomerUpsert, "currency", "USD" * 40) == "USD" * 40
