"""Fault injection for the built-in sandboxes, so tests and benchmarks can break a backend.

FOR SANDBOXES ONLY. The sandboxes mount it (`install_faults` in their `create_app`);
nothing else may: it must never sit in front of a real backend or the gateway, where
it would turn a control request into a way to break production. It injects, each
with its own probability, drawn from a seeded RNG so a run can be replayed:

- `latency`: `latency_seconds` added before the request is handled (combines with
  the faults below);
- `error`: a 5xx (one of `error_statuses`) instead of handling the request;
- `throttle`: a `429` with `Retry-After: retry_after_seconds`, request not handled;
- `timeout`: the request is handled, then the answer is held `timeout_seconds`
  (set it past the client's read timeout): the write happened, the answer is lost;
- `drop`: the request is handled, the status line is sent (without a length, so
  the body is chunked) and the connection is cut before the body: the client sees a
  transport error (in process: `ConnectionDropped`, an `httpx.RemoteProtocolError`);
- `malformed`: the request is handled, and the answer is a `200` whose body is
  garbage (not JSON, truncated JSON, or JSON of the wrong shape).

A sandbox that serves batch requests (Business Central's `$batch`) also fails single
operations inside them at `error_rate` (`operation_error`, counted apart).

At most one of the last five hits a request: their rates add up to at most 1.

Each sandbox has its own injector, configured at run time over HTTP with
`POST /_sandbox/faults` (a JSON `FaultConfig`; the RNG is reseeded and the counters
reset), read with what was injected so far by `GET /_sandbox/faults`, and switched off
with `DELETE /_sandbox/faults`. The sandboxes a gateway runs in process are reached the
same way through the gateway, at `/_sandbox/{backend}/faults` (outside production only;
see `app/sandbox_faults.py`). A sandbox takes its initial configuration from
`LEDGERGATE_SANDBOX_FAULTS_<BACKEND>` (`ERP`, `BILLING`, `CRM`, `SUPPORT`) or else
`LEDGERGATE_SANDBOX_FAULTS` (every backend), the same JSON, e.g.
`LEDGERGATE_SANDBOX_FAULTS_ERP='{"error_rate": 0.3, "seed": 7}' ledgergate serve`.
Unset, nothing is injected.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

FAULTS_PATH = "/_sandbox/faults"
FAULTS_ENV = "LEDGERGATE_SANDBOX_FAULTS"

MALFORMED_BODIES = (
    b"<html><body>Bad Gateway</body></html>",
    b'{"value": [{"id": ',
    b'{"unexpected": true}',
    b"[]",
    b"\xff\xfe\x00garbage",
)
"""What a `malformed` answer carries: HTML, truncated JSON, JSON outside any schema, bytes."""


class Fault(StrEnum):
    ERROR = "error"
    THROTTLE = "throttle"
    TIMEOUT = "timeout"
    DROP = "drop"
    MALFORMED = "malformed"


class FaultConfig(BaseModel):
    """What to inject and how often; the default injects nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    latency_rate: float = Field(default=0.0, ge=0, le=1)
    latency_seconds: float = Field(default=0.0, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_statuses: tuple[int, ...] = Field(default=(500, 502, 503), min_length=1)
    throttle_rate: float = Field(default=0.0, ge=0, le=1)
    retry_after_seconds: int = Field(default=1, ge=0)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_seconds: float = Field(default=30.0, gt=0)
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    malformed_rate: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _check(self) -> FaultConfig:
        if any(not 500 <= status <= 599 for status in self.error_statuses):
            raise ValueError("error_statuses must be 5xx statuses")
        if sum(self.rates().values()) > 1:
            raise ValueError("the rates of error, throttle, timeout, drop and malformed exceed 1")
        return self

    def rates(self) -> dict[Fault, float]:
        return {
            Fault.ERROR: self.error_rate,
            Fault.THROTTLE: self.throttle_rate,
            Fault.TIMEOUT: self.timeout_rate,
            Fault.DROP: self.drop_rate,
            Fault.MALFORMED: self.malformed_rate,
        }


class ConnectionDropped(httpx.RemoteProtocolError):
    """The injected cut of a connection. Over a socket the server closes it and the client
    raises its own transport error; in process httpx's ASGI transport re-raises this one,
    which is the same kind of error."""


@dataclass(frozen=True)
class Decision:
    latency: float
    fault: Fault | None


class FaultInjector:
    """The current configuration, its RNG and what it has injected so far."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self.requests = 0
        self.injected: Counter[str] = Counter()

    def draw(self) -> Decision:
        """Decide the fate of one request."""
        config = self.config
        self.requests += 1
        latency = 0.0
        if config.latency_rate and self._rng.random() < config.latency_rate:
            latency = config.latency_seconds
            self.injected["latency"] += 1
        roll, threshold = self._rng.random(), 0.0
        for fault, rate in config.rates().items():
            threshold += rate
            if roll < threshold:
                self.injected[fault.value] += 1
                return Decision(latency, fault)
        return Decision(latency, None)

    def operation_error(self) -> int | None:
        """For one operation inside a batch request: a 5xx status at `error_rate` (the
        operation is not handled), else None. The other faults hit whole requests only."""
        if not self.config.error_rate or self._rng.random() >= self.config.error_rate:
            return None
        self.injected["operation_error"] += 1
        return self.error_status()

    def error_status(self) -> int:
        return self._rng.choice(self.config.error_statuses)

    def malformed_body(self) -> bytes:
        return self._rng.choice(MALFORMED_BODIES)

    def report(self) -> dict[str, Any]:
        return {
            "config": self.config.model_dump(mode="json"),
            "requests": self.requests,
            "injected": dict(self.injected),
        }


def config_from_env(backend: str, environ: Mapping[str, str] | None = None) -> FaultConfig:
    """The backend's configuration from the environment, or no faults when none is set."""
    environ = os.environ if environ is None else environ
    raw = environ.get(f"{FAULTS_ENV}_{backend.upper()}") or environ.get(FAULTS_ENV)
    return FaultConfig() if not raw else FaultConfig.model_validate_json(raw)


async def control(injector: FaultInjector, request: Request) -> Response:
    """The control endpoint: `GET` the report, `POST` a configuration, `DELETE` to stop."""
    if request.method == "POST":
        try:
            config = FaultConfig.model_validate_json(await request.body())
        except ValidationError as error:
            errors = json.loads(error.json(include_url=False, include_input=False))
            return JSONResponse({"errors": errors}, status_code=422)
        injector.configure(config)
        logger.info("sandbox.faults.configured", extra={"faults": config.model_dump()})
    elif request.method == "DELETE":
        injector.configure(FaultConfig())
    elif request.method != "GET":
        return JSONResponse(
            {"error": "use GET, POST or DELETE"},
            status_code=405,
            headers={"Allow": "GET, POST, DELETE"},
        )
    return JSONResponse(injector.report())


class FaultMiddleware:
    """Pure ASGI middleware: serves the control endpoint and injects faults into the rest."""

    def __init__(self, app: ASGIApp, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == FAULTS_PATH:
            response = await control(self.injector, Request(scope, receive))
            await response(scope, receive, send)
            return
        decision = self.injector.draw()
        if decision.latency:
            await asyncio.sleep(decision.latency)
        if decision.fault is None:
            await self.app(scope, receive, send)
            return
        logger.info("sandbox.fault.injected", extra={"fault": decision.fault.value})
        config = self.injector.config
        if decision.fault is Fault.ERROR:
            status = self.injector.error_status()
            await _answer(send, status, b"injected fault", "text/plain")
        elif decision.fault is Fault.THROTTLE:
            await _answer(
                send,
                429,
                b'{"error": "too many requests (injected fault)"}',
                "application/json",
                retry_after=str(config.retry_after_seconds),
            )
        else:
            messages = await self._handle(scope, receive)
            if decision.fault is Fault.TIMEOUT:
                await asyncio.sleep(config.timeout_seconds)
                for message in messages:
                    await send(message)
            elif decision.fault is Fault.DROP:
                start = messages[0]
                headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                await send({**start, "headers": headers})
                raise ConnectionDropped("connection dropped (injected fault)")
            else:
                await _answer(send, 200, self.injector.malformed_body(), "application/json")

    async def _handle(self, scope: Scope, receive: Receive) -> list[Message]:
        """Let the sandbox handle the request; keep its answer instead of sending it."""
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, keep)
        return messages


async def _answer(
    send: Send, status: int, body: bytes, content_type: str, *, retry_after: str | None = None
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", retry_after.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def install_faults(app: Starlette, backend: str) -> FaultInjector:
    """Mount fault injection on a sandbox app, configured from the environment."""
    injector = FaultInjector(config_from_env(backend))
    app.add_middleware(FaultMiddleware, injector=injector)
    app.state.faults = injector
    return injector
