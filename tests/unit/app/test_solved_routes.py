"""A simple route's parameters are solved by a plan made once (`solved_routes.py`): the
same values and errors as FastAPI's `solve_dependencies`, for fewer calls; a route it
cannot plan is FastAPI's."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import BackgroundTasks, Depends, FastAPI, Header, Path, Request, routing
from pydantic import BaseModel, ConfigDict
from starlette.types import Message

from app.governance.governed_routes import govern_routes
from app.governance.problems import install_problem_handlers
from tests.support.python_calls import profiled


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int
    colour: str = "red"


async def tenant(request: Request, tenant: Annotated[str, Header(min_length=2)]) -> str:
    return f"{request.method}:{tenant}"


async def tagged(owner: Annotated[str, Depends(tenant)], tag: str | None = None) -> str:
    return f"{owner}:{tag}"


def build() -> FastAPI:
    app = FastAPI()

    @app.post("/things/{thing_id}", status_code=201)
    async def create(
        thing_id: Annotated[int, Path(ge=1)],
        thing: Thing,
        owner: Annotated[str, Depends(tenant)],
        label: Annotated[str, Depends(tagged)],
    ) -> dict[str, object]:
        return {"id": thing_id, "owner": owner, "label": label, **thing.model_dump()}

    @app.post("/later")
    async def later(thing: Thing, tasks: BackgroundTasks) -> dict[str, int]:
        return {"size": thing.size}

    install_problem_handlers(app)
    govern_routes(app)
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


CASES: list[tuple[str, dict[str, object]]] = [
    ("/things/7?tag=x", {"json": {"size": 2}, "headers": {"tenant": "acme"}}),
    ("/things/0", {"json": {"size": "big", "y": 1}, "headers": {"tenant": "a"}}),
    ("/things/x", {}),
    ("/things/3", {"content": b"", "headers": {"content-type": "application/json"}}),
    ("/things/3", {"content": b"{", "headers": {"content-type": "application/json"}}),
    ("/things/3", {"content": b'{"size": 1}', "headers": {"content-type": "text/plain"}}),
    ("/things/3", {"content": b'{"size": 1}', "headers": {"tenant": "acme"}}),
    ("/things/3", {"content": b'{"size": 1}', "headers": {"content-type": "app/x+json"}}),
    ("/later", {"json": {"size": 5}}),
    ("/later", {"json": [5]}),
]


@pytest.mark.parametrize(("url", "sent"), CASES)
async def test_a_planned_route_answers_as_fastapi_does(
    url: str, sent: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build()
    solved: list[str] = []
    original = routing.solve_dependencies

    async def counted(**kwargs: Any) -> Any:
        solved.append(kwargs["request"].url.path)
        return await original(**kwargs)

    monkeypatch.setattr(routing, "solve_dependencies", counted)
    async with client(app) as http:
        ours = await http.post(url, **sent)  # type: ignore[arg-type]
        planned = not solved
        app.dependency_overrides[build] = build  # any override: FastAPI's way
        theirs = await http.post(url, **sent)  # type: ignore[arg-type]
    assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content)
    assert ours.headers.items() == theirs.headers.items()
    assert planned == url.startswith("/things")  # background tasks: not planned


async def _post(app: FastAPI, path: str, query: bytes, body: bytes) -> list[Message]:
    """One POST sent to the app as an ASGI call, without a client's work around it."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json"), (b"tenant", b"acme")]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    await app(scope, receive, send)
    return sent


async def test_a_planned_route_costs_a_bounded_number_of_calls() -> None:
    # FastAPI's handler and `solve_dependencies` made 1005 calls a request here (its
    # content type parsed, each dependency's and parameter's kind, aliases and cache key
    # found again), the plan 279.
    app = build()
    answer = await _post(app, "/things/7", b"tag=x", b'{"size": 2}')
    assert answer[0]["status"] == 201
    with profiled() as counted:
        for _ in range(20):
            await _post(app, "/things/7", b"tag=x", b'{"size": 2}')
    assert counted.total_calls / 20 < 450
