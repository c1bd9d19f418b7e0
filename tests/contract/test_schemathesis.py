"""Property-based fuzzing of every operation the gateway serves (schemathesis).

Each operation gets generated valid and invalid requests; every answer must be a
documented status (never a 5xx), with a conforming content type and a body valid
against the operation's documented schema.
"""

import asyncio
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

from app.core.db import create_engine, create_sessionmaker
from app.core.migrate import upgrade
from app.core.scopes import SCOPES
from app.core.settings import Settings
from app.governance.auth.clients import create_client
from app.governance.auth.context import AuthContext
from app.governance.auth.tokens import issue_token
from app.governance.rate_limit import RateLimiter
from app.main import create_app
from app.seed import seed_demo_estate

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def served_app() -> tuple[object, str]:
    """The gateway on a throwaway SQLite file, and a token holding every scope.

    The key ring and the client are made before the app starts (schemathesis runs
    its lifespan), in the same database, so the app verifies the token as its own.
    """
    database = Path(tempfile.mkdtemp(prefix="ledgergate-fuzz-")) / "fuzz.db"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="test",
        database_url=f"sqlite+aiosqlite:///{database}",
        seed_demo_data=True,
        max_body_bytes=64 * 1024 * 1024,  # the size limit has its own tests; fuzz the contract
    )

    async def all_scopes_token() -> str:
        engine = create_engine(settings.database_url)
        await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        await seed_demo_estate(sessionmaker)
        limiter = RateLimiter(settings.rate_limits, settings.rate_limit_storage_url)
        auth = await AuthContext.start(settings.auth, sessionmaker, limiter)
        async with sessionmaker() as session:
            await create_client(session, name="fuzzer", scopes=SCOPES, client_id="fuzzer")
            await session.commit()
        token, _ = issue_token(
            auth.ring,
            settings.auth,
            client_id="fuzzer",
            scopes=sorted(SCOPES),
            partner_id=None,
            tier="internal",
        )
        await auth.aclose()
        await engine.dispose()
        return token

    return create_app(settings), asyncio.run(all_scopes_token())


APP, TOKEN = served_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_within_its_contract(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS, headers={"Authorization": f"Bearer {TOKEN}"})
