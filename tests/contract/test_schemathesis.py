"""Property-based fuzzing of every operation the gateway serves (schemathesis).

Each operation gets generated valid and invalid requests; every answer must be a
documented status (never a 5xx), with a conforming content type and a body valid
against the operation's documented schema.
"""

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.core.settings import Settings
from app.main import create_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def served_app() -> object:
    """The gateway on a throwaway SQLite file; schemathesis runs its lifespan."""
    database = Path(tempfile.mkdtemp(prefix="ledgergate-fuzz-")) / "fuzz.db"
    return create_app(
        Settings(  # type: ignore[call-arg]
            _env_file=None,
            environment="test",
            database_url=f"sqlite+aiosqlite:///{database}",
            seed_demo_data=True,
        )
    )


schema = schemathesis.openapi.from_asgi("/openapi.json", served_app())


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_within_its_contract(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)
