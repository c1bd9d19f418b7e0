"""The benchmark servers' `/bench/stats`: answered in front of the app, which keeps the
routes it was built with (the gateway's route index serves only those)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from bench.serve import instrument


async def test_stats_are_answered_without_a_route_added_to_the_app() -> None:
    app = FastAPI()

    @app.get("/v1/things")
    async def things() -> dict[str, int]:
        return {"things": 1}

    routes = list(app.router.routes)
    instrument(app)
    assert app.router.routes == routes
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        assert (await client.get("/v1/things")).json() == {"things": 1}
        stats = (await client.get("/bench/stats", params={"reset": "true"})).json()
        assert stats["requests"] == 1
        assert (await client.get("/bench/stats")).json()["requests"] == 0
