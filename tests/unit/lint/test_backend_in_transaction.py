"""The check that no backend call is awaited inside an open database transaction."""

from pathlib import Path

import pytest

from lint.backend_in_transaction import findings, main, python_files

REPO = Path(__file__).resolve().parents[3]

# The replay of invoice posting as it was: `post` (which calls the ERP) awaited in a session.
RESUME_IN_SESSION = """
class Workflow:
    async def post(self, invoice_id):
        run = self.engine.run(invoice_id)
        return await run.step("post_document", lambda: self.context.erp.post(invoice_id))

    async def resume(self, run_id):
        async with self.context.sessionmaker() as session:
            run = await session.get_one(Run, run_id)
            return await self.post(run.subject_id)
"""

DIRECT_CALL_IN_BEGIN = """
async def sync(context, customer):
    async with context.sessionmaker.begin() as session:
        session.add(customer)
        await context.billing.create_customer(customer)
"""

THROUGH_A_HELPER = """
async def upsert(context, customer):
    erp = context.erp
    return await erp.upsert_customer(customer)

async def handler(transaction, context, customer):
    async with transaction() as session:
        await session.execute(customer)
        await upsert(context, customer)
"""

CLOSED_FIRST = """
class Workflow:
    async def post(self, invoice_id):
        return await self.context.erp.post(invoice_id)

    async def resume(self, run_id):
        async with self.context.sessionmaker() as session:
            run = await session.get_one(Run, run_id)
            subject = run.subject_id
        return await self.post(subject)
"""


def check(tmp_path: Path, source: str) -> list[str]:
    path = tmp_path / "sample.py"
    path.write_text(source)
    return findings([path])


@pytest.mark.parametrize(
    ("source", "line"),
    [(RESUME_IN_SESSION, 10), (DIRECT_CALL_IN_BEGIN, 5), (THROUGH_A_HELPER, 9)],
)
def test_a_backend_call_in_a_transaction_is_reported(
    tmp_path: Path, source: str, line: int
) -> None:
    [finding] = check(tmp_path, source)
    assert finding.startswith(f"{tmp_path / 'sample.py'}:{line}:")


def test_a_call_after_the_session_closed_passes(tmp_path: Path) -> None:
    assert check(tmp_path, CLOSED_FIRST) == []


def test_the_tree_passes_and_a_bad_sample_fails_the_command(tmp_path: Path) -> None:
    tree = [str(REPO / name) for name in ("app", "process_apis")]
    assert findings(python_files(tree)) == []
    (tmp_path / "bad.py").write_text(RESUME_IN_SESSION)
    assert main([*tree, str(tmp_path / "bad.py")]) == 1
