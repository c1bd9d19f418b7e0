"""`create_app()`: the gateway assembled from its tiers, edge first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import sandbox_faults
from app.backends import Backends
from app.experience.console.mount import install_console
from app.governance.accept import AcceptMiddleware
from app.governance.admission import AdmissionMiddleware
from app.governance.audit import AuditMiddleware
from app.governance.auth.client_status import announce_status_change
from app.governance.auth.context import AuthContext
from app.governance.auth_failures import FailedAuthTally
from app.governance.correlation import CorrelationMiddleware
from app.governance.docs import install_docs
from app.governance.governed_routes import govern_routes
from app.governance.headers import ResponseHeaders
from app.governance.hygiene import InputHygieneMiddleware
from app.governance.logging import configure_logging
from app.governance.openapi import install_openapi
from app.governance.problems import install_problem_handlers
from app.governance.query_parameters import refuse_repeated_query_parameters
from app.governance.rate_limit import RateLimiter
from app.governance.stack import Gateway
from app.governance.uploads import UploadMiddleware
from app.governance.versioning import install_versioning
from app.readiness import ReadinessMonitor
from app.route_index import index_routes
from app.routers import include_routers
from app.runtime import runtime
from app.seed import (
    demo_netsuite_connection,
    disable_demo_clients,
    seed_demo_clients,
    seed_demo_estate,
)
from app.served_heap import collect_for_serving
from core.settings import Settings, get_settings
from events.webhooks.context import WebhookContext
from process_apis.deps import ProcessContext

if TYPE_CHECKING:
    from process_apis.worker import BackgroundWork

DESCRIPTION = """Governed REST APIs between billing, CRM, support and the ERP.

Every error is an RFC 9457 `application/problem+json` document with a stable `type`.
Writes with financial effect take an `Idempotency-Key`."""


def background_work(context: ProcessContext) -> BackgroundWork:
    """The background passes, imported only by a process that runs them: a worker that
    only serves loads no relay, NATS client or webhook sessions (aiohttp)."""
    from process_apis.worker import BackgroundWork

    return BackgroundWork(context)


def create_served_app() -> FastAPI:
    """The app in each process `ledgergate serve` runs, logging JSON like the supervisor."""
    settings = get_settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    collect_for_serving(app)
    return app


def create_app(settings: Settings | None = None, *, backends: Backends | None = None) -> FastAPI:
    """The ASGI app. `backends` replaces the ones built from settings (tests, benchmarks)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime(settings, backends=backends) as running:
            if backends is None:  # a billing sandbox of its own sends it its events
                running.backends.deliver_billing_events(
                    app, secret=settings.billing.webhook_secret.get_secret_value()
                )
            if settings.should_seed_demo_data:
                await seed_demo_estate(
                    running.sessionmaker, netsuite_connection=demo_netsuite_connection(settings)
                )
            if settings.should_seed_demo_clients:
                await seed_demo_clients(running.sessionmaker)
            elif settings.environment != "development" and await disable_demo_clients(
                running.sessionmaker
            ):
                await announce_status_change(settings.rate_limit_storage_url)
            app.state.rate_limiter = RateLimiter(
                settings.rate_limits,
                settings.rate_limit_storage_url,
                fail_open=settings.rate_limits_fail_open,
            )
            app.state.auth = await AuthContext.start(
                settings.auth, running.sessionmaker, app.state.rate_limiter
            )
            app.state.authenticator = app.state.auth.authenticator
            app.state.auth_failures = FailedAuthTally(running.sessionmaker)
            app.state.auth_failures.start()
            app.state.backends = running.backends
            app.state.process = running.context
            app.state.webhooks = WebhookContext.build(settings, running.sessionmaker)
            app.state.readiness = ReadinessMonitor(
                running.sessionmaker,
                running.backends,
                app.state.rate_limiter,
                interval_seconds=settings.readiness_probe_seconds,
            )
            await app.state.readiness.start()
            stop = asyncio.Event()
            background = (
                asyncio.create_task(
                    background_work(running.context).run_forever(
                        interval=settings.worker_interval_seconds, stop=stop
                    )
                )
                if settings.runs_background_work
                else None
            )
            try:
                yield
            finally:
                stop.set()
                if background is not None:
                    await background
                await app.state.readiness.aclose()
                await app.state.auth_failures.aclose()
                await app.state.auth.aclose()

    app = Gateway(
        title="Ledgergate",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # `install_docs` serves them from packaged assets, not a CDN
        redoc_url=None,
        openapi_url="/openapi.json" if settings.serves_docs else None,
        # Starlette's slash redirect builds its `Location` from the Host header: no redirects.
        redirect_slashes=False,
        dependencies=[Depends(refuse_repeated_query_parameters)],
    )
    if settings.serves_docs:
        install_docs(app)
    app.state.metrics_need_scope = settings.metrics_need_scope
    install_problem_handlers(app)
    include_routers(app)
    install_console(app, settings)
    if settings.environment != "production":
        app.include_router(sandbox_faults.router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Correlation-ID"],
            expose_headers=[
                "X-Correlation-ID",
                "RateLimit",
                "RateLimit-Policy",
                "Retry-After",
                "Idempotent-Replayed",
                "Location",
            ],
        )
    app.add_middleware(AuditMiddleware)
    if settings.max_in_flight:  # inside metrics and correlation: a refusal is counted and logged
        app.add_middleware(AdmissionMiddleware, max_in_flight=settings.max_in_flight)
    app.add_middleware(InputHygieneMiddleware)  # sees the body `UploadMiddleware` received
    # Outside admission: a request still sending its body does not hold a slot.
    app.add_middleware(
        UploadMiddleware,
        max_bytes=settings.max_body_bytes,
        timeout_seconds=settings.request_body_timeout_seconds,
        max_per_client=settings.max_uploads_per_client,
        trusted_proxies=settings.rate_limits.trusted_proxies,
    )
    app.add_middleware(AcceptMiddleware)
    # Outermost of the app's own: its last-resort 500 gets the response headers too.
    app.add_middleware(
        CorrelationMiddleware,
        headers=ResponseHeaders(
            hsts=settings.environment == "production",
            registry=install_versioning(app, settings.versioning),
        ),
    )
    install_openapi(app)
    govern_routes(app)  # once every route is added
    index_routes(app)  # last: every route is added
    return app
