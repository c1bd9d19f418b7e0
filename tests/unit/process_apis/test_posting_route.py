"""The posting routes' framework work: one dependency to solve, no frame of the route's own
helper on the request's stack while the posting waits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.requests import Request

from app.governance.governed_routes import split
from process_apis.invoices import router as v1
from process_apis.invoices import service
from process_apis.invoices.router import answer_posting
from process_apis.invoices.schemas import PostingCreate
from process_apis.invoices.v2 import router as v2
from tests.support.frames import callers


def _posting_route(router: Any) -> APIRoute:
    return next(
        route
        for route in router.router.routes
        if isinstance(route, APIRoute) and route.path.endswith("/postings")
    )


def _tree_size(dependant: Any) -> int:
    return sum(1 + _tree_size(sub) for sub in dependant.dependencies)


@pytest.mark.parametrize("router", [v1, v2], ids=["v1", "v2"])
def test_the_posting_route_solves_one_dependency(router: Any) -> None:
    # Past the edge's checks, FastAPI solves one dependency (the Idempotency-Key's, which
    # reads the context and the caller itself), not the key's, the context's and the
    # caller's each twice over: every node costs FastAPI a hundred-odd calls a request.
    _, rest = split(_posting_route(router).dependant)
    assert _tree_size(rest) == 1
    assert [param.alias for param in rest.dependencies[0].header_params] == ["Idempotency-Key"]


async def test_answer_posting_is_not_on_the_stack_while_the_posting_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack: list[str] = []

    async def post_invoice(*args: object, **kwargs: object) -> Any:
        stack.extend(callers())
        return SimpleNamespace(state=None, already_posted=False, run_url=None)

    class Idempotency:
        def __init__(self, request: Request) -> None:
            self.request = request

        async def __call__(
            self, body: object, handler: Callable[[], Awaitable[Any]], *_: object
        ) -> Any:
            return await handler()

    monkeypatch.setattr(service, "post_invoice", post_invoice)
    app = SimpleNamespace(state=SimpleNamespace(process=object()))
    request = Request({"type": "http", "app": app, "state": {}, "headers": []})
    outcome = await answer_posting(
        Idempotency(request),  # type: ignore[arg-type]
        "inv_1",
        PostingCreate(),
        body=lambda result: result,
        location="/v1/invoices/inv_1",
    )
    assert outcome.status_code == 201
    assert "answer_posting" not in stack
