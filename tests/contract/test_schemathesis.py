"""Property-based fuzzing of every operation of every contract the gateway serves (schemathesis).

Each contract (`/openapi/<name>.json`, the documents committed in `openapi/`) is loaded
on its own, so a contract that does not stand alone fails here. Every operation gets
generated valid and invalid requests, authenticated with a token holding every scope,
and every answer goes through schemathesis's default checks. A stateful phase then
follows the contracts' OpenAPI links (create → get → post, list → get) through
sequences of calls, with the same checks on every step.
"""

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import CheckFunction
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.governance.auth.clients import create_client
from app.governance.auth.context import AuthContext
from app.governance.auth.tokens import issue_token
from app.governance.contracts import CONTRACT_NAMES, contracts_of
from app.governance.openapi import operations
from app.governance.rate_limit import RateLimiter
from app.main import create_app
from app.seed import demo_id, seed_demo_estate
from core.db import create_engine, create_sessionmaker
from core.migrate import upgrade
from core.scopes import PARTNER_SCOPES, SCOPES
from core.settings import RateLimitSettings, Settings

# Every default check, less one that does not fit a gateway of business rules:
# `positive_data_acceptance` wants any schema-valid body accepted, but a valid invoice
# for an unknown customer or with lines that do not add up is a documented 404/422.
EXCLUDED_CHECKS: list[CheckFunction] = [positive_data_acceptance]

pytestmark = pytest.mark.fuzz

PARTNER_ID = demo_id("partner", 1)


def served_app() -> tuple[FastAPI, dict[str, str]]:
    """The gateway on a throwaway SQLite file, and a bearer token per contract.

    The partner portal answers only partner-bound tokens, so its contract is fuzzed
    as a demo partner; every other contract with a token holding every scope. The key
    ring and the clients are made before the app starts (schemathesis runs its
    lifespan), in the same database, so the app verifies the tokens as its own.
    """
    database = Path(tempfile.mkdtemp(prefix="ledgergate-fuzz-")) / "fuzz.db"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="test",
        database_url=f"sqlite+aiosqlite:///{database}",
        seed_demo_data=True,
        max_body_bytes=64 * 1024 * 1024,  # the size limit has its own tests; fuzz the contract
        # Schemathesis probes every operation without credentials; with the contracts'
        # operations together that passes the failed-auth limit per address, which then
        # refuses the rest of the run with 429. That limit has its own tests.
        rate_limits=RateLimitSettings(failed_auth="100000/minute"),
    )

    async def tokens() -> dict[str, str]:
        engine = create_engine(settings.database_url)
        await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        await seed_demo_estate(sessionmaker)
        limiter = RateLimiter(settings.rate_limits, settings.rate_limit_storage_url)
        auth = await AuthContext.start(settings.auth, sessionmaker, limiter)
        async with sessionmaker() as session:
            await create_client(session, name="fuzzer", scopes=SCOPES, client_id="fuzzer")
            await create_client(
                session,
                name="partner fuzzer",
                scopes=PARTNER_SCOPES,
                client_id="partner-fuzzer",
                partner_id=PARTNER_ID,
            )
            await session.commit()
        internal, _ = issue_token(
            auth.ring,
            settings.auth,
            client_id="fuzzer",
            scopes=sorted(SCOPES),
            partner_id=None,
            tier="internal",
        )
        partner, _ = issue_token(
            auth.ring,
            settings.auth,
            client_id="partner-fuzzer",
            scopes=sorted(PARTNER_SCOPES),
            partner_id=PARTNER_ID,
            tier="standard",
        )
        await auth.aclose()
        await engine.dispose()
        return {name: partner if name == "partner-v1" else internal for name in CONTRACT_NAMES}

    return create_app(settings), asyncio.run(tokens())


APP, TOKENS = served_app()
SCHEMAS = {name: schemathesis.openapi.from_asgi(f"/openapi/{name}.json", APP) for name in TOKENS}
# The suite's depth: every operation still gets its examples, its coverage cases
# (positive and negative) and a few generated cases of each mode. `make fuzz` loads the
# "fuzz" Hypothesis profile (tests/conftest.py) for the full depth.
FULL_DEPTH = settings.get_current_profile_name() == "fuzz"
FUZZ = settings(
    max_examples=40 if FULL_DEPTH else 6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
STATEFUL = settings(
    max_examples=25 if FULL_DEPTH else 5,
    stateful_step_count=6 if FULL_DEPTH else 4,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


def fuzz(name: str) -> Callable[..., None]:
    """A test over every operation of contract `name`, each with its generated cases."""

    @SCHEMAS[name].parametrize()
    @FUZZ
    def test(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=auth(name), excluded_checks=EXCLUDED_CHECKS)

    return test  # type: ignore[no-any-return]


# One test per contract with operations: a contract that gains its first (the system
# APIs, say) is fuzzed without a change here.
for _name, _document in contracts_of(APP).items():
    if _document["paths"]:
        globals()[f"test_{_name.replace('-', '_')}_operations"] = fuzz(_name)
LINKED = [
    name
    for name, document in contracts_of(APP).items()
    if any("links" in r for _, _, op in operations(document) for r in op["responses"].values())
]


@pytest.mark.parametrize("name", LINKED)
def test_linked_operations_in_sequence(name: str) -> None:
    """Hypothesis walks the links (create → get → post, list → get); every step is checked."""

    class Workflow(SCHEMAS[name].as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
            return {"headers": auth(name)}

        def validate_response(
            self,
            response: object,
            case: schemathesis.Case,
            additional_checks: object = None,
            **kwargs: object,
        ) -> None:
            case.validate_response(
                response, excluded_checks=EXCLUDED_CHECKS, transport_kwargs=kwargs
            )

    run_state_machine_as_test(Workflow, settings=STATEFUL)
