"""The order a run's steps read in."""

from datetime import timedelta

from sqlalchemy import insert

from core.models.base import utcnow
from process_apis.runs.engine import Engine
from process_apis.runs.repository import STEPS, get_run
from tests.conftest import GatewayFactory
from tests.support.runs import committed_run


async def test_steps_that_share_a_sequence_read_in_the_order_they_started(
    make_gateway: GatewayFactory,
) -> None:
    """A run's per-item steps (one sequence number, as `check_eligibility:<tier>`) list in
    the order they started, not the order the database holds their rows in (its writes
    move them: a finished step's row is a new version)."""
    gateway = await make_gateway()
    sessionmaker = gateway.app.state.process.sessionmaker
    engine = Engine(sessionmaker, steps=("check",))
    run = await committed_run(engine, "order_probe")
    first = utcnow()
    # The later step's row first, as a database may return them after an update.
    for name, started in (("check:b", first + timedelta(seconds=1)), ("check:a", first)):
        async with sessionmaker() as session:
            await session.execute(
                insert(STEPS).values(
                    id=f"{run.id}-{name}",
                    run_id=run.id,
                    sequence=0,
                    name=name,
                    status="succeeded",
                    attempts=1,
                    started_at=started,
                    finished_at=started,
                )
            )
            await session.commit()
    async with sessionmaker() as session:
        loaded = await get_run(session, run.id)
    assert [step.name for step in loaded.steps] == ["check:a", "check:b"]
