"""The resilient HTTP client every adapter uses to reach its backend.

One client per backend on pooled keep-alive connections (`system_apis.keepalive`),
httpx's requests and responses, explicit timeouts, retries with
exponential backoff and jitter for transient faults only (honouring `Retry-After`)
within a total time budget, a circuit breaker (`system_apis.circuit`), the
correlation id sent downstream, every failure classified (`system_apis.errors`) and
every request measured (`system_apis.metrics`).

The promises, each tested in `tests/unit/system_apis/test_http.py`:

- a call that is not idempotent (a POST or PATCH without an `Idempotency-Key`, unless
  the adapter says the backend deduplicates it) is sent once, never retried;
- a logical request, attempts and waits included, never outlasts
  `retry_budget_seconds`: a wait that would end past the budget (a long
  `Retry-After`, say) is not started, and a slow attempt is cut at the budget;
- `Retry-After` is honoured: no retry before the backend said to;
- every failure is a `BackendError` of one class (transient, business, auth,
  contract); a response that cannot be read, or a body outside the vendor's
  schema (`parse_body`), is a contract error, never an unhandled exception.
- with a `budget` (the ERP connections': `system_apis.budget`), every attempt first
  takes a slot in the connection's shared budget, or draws on one an adapter holds for
  a sequence of requests (`held_slot`), and a `429` shrinks and pauses it;
- a TLS certificate that fails verification is a contract error, never retried (it
  would fail the same way); `ca_bundle` trusts a private certificate authority
  (`tests/unit/system_apis/test_tls.py`).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from functools import cache, lru_cache, partial
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from core.context import correlation_id
from core.settings import BackendSettings
from system_apis import metrics
from system_apis.budget import ErpBudget, ErpBudgetExhausted
from system_apis.circuit import BackendCircuitOpen, CircuitBreaker, CircuitState
from system_apis.errors import (
    BackendAuthError,
    BackendBusinessError,
    BackendContractError,
    BackendError,
    BackendNotFound,
    BackendTimeout,
    BackendTransientError,
)
from system_apis.keepalive import PooledTransport, WholeBody, parsed_response
from system_apis.priority import Priority, current_priority

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
AUTH_STATUSES = frozenset({401, 403})
MAX_RETRY_AFTER_SECONDS = 60.0
PROBE_BUDGET_WAIT_SECONDS = 0.5
REQUEST_SHARE_OF_BUDGET = 0.5
URL_CACHE_SIZE = 256
"""Joined URLs a client keeps: the collections and `$batch` every posting names again."""
ABSOLUTE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# A relative URL httpx would keep character for character: printable ASCII that needs no
# percent-encoding in the path (nor in the query, after the first `?`), no fragment.
PLAIN_URL = re.compile(r"[!$-;=@-_a-z|~]*(?:\?[!$-;=?-~]*)?")
JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
"""What httpx writes a JSON body with (`json.dumps` built one such encoder a body)."""
ASGI_CLIENT = ("127.0.0.1", 123)
"""The peer an in-process app sees (httpx's ASGI transport's)."""

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


@dataclass(frozen=True)
class VendorError:
    """What a backend's own error body says: its error code and its message."""

    code: str | None
    message: str | None


ErrorDecoder = Callable[[httpx.Response], VendorError | None]
"""Reads a vendor error body; adapters pass one so refusals keep the vendor's words."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


@cache
def public_tls() -> ssl.SSLContext:
    """The TLS settings trusting the public CAs (certifi's), one per process: each
    context holds its own parsed copy of the CA bundle (about 1 MiB), and every backend
    client, the JWKS client among them, may share it."""
    return httpx.create_ssl_context()


def http_transport(settings: BackendSettings) -> PooledTransport:
    """The pooled network transport for a real backend endpoint (`system_apis.keepalive`)."""
    return PooledTransport(
        ssl_context=public_tls()
        if settings.ca_bundle is None
        else ssl.create_default_context(cafile=settings.ca_bundle),
        max_connections=settings.max_connections,
    )


class InProcessTransport(httpx.AsyncBaseTransport):
    """Calls an ASGI app (a sandbox) in process, with the read timeout a socket would have.

    What `httpx.ASGITransport` does (the app's exception raised, a `HEAD` answered without
    a body), with the request's body sent in one message and the answer given whole, as
    `PooledTransport` gives it (`WholeBody`): httpx's ASGI transport cost about 90 calls
    a request (an event built through `sniffio`, its body through async iterators, each
    answer's header checked again).

    httpx's ASGI transport enforces no timeout at all. In process there is no connect
    or write phase and the body arrives whole, so the request's read timeout bounds
    the whole exchange; running out raises `httpx.ReadTimeout`, as the network would.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        read = request.extensions.get("timeout", {}).get("read")
        if read is None:
            return await self._answer(request)
        try:
            async with asyncio.timeout(read) as deadline:
                return await self._answer(request)
        except TimeoutError as exc:
            if not deadline.expired():
                raise
            raise httpx.ReadTimeout(f"no answer within {read}s", request=request) from exc

    async def _answer(self, request: httpx.Request) -> httpx.Response:
        try:
            body = request.content
        except httpx.RequestNotRead:  # streamed: the app takes it whole all the same
            body = await request.aread()
        url = request.url
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(lower, value) for _, lower, value in request.headers._list],
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.split(b"?")[0],
            "query_string": url.query,
            "server": (url.host, url.port),
            "client": ASGI_CLIENT,
            "root_path": "",
        }
        received = complete = False
        completed = asyncio.Event()
        status: int | None = None
        headers: list[tuple[bytes, bytes]] = []
        parts: list[bytes] = []
        keep_body = request.method != "HEAD"

        async def receive() -> dict[str, Any]:
            nonlocal received
            if received:  # the app listens for the client leaving: it does, once answered
                await completed.wait()
                return {"type": "http.disconnect"}
            received = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status, headers, complete
            if message["type"] == "http.response.start":
                assert status is None, "the answer started twice"
                status = message["status"]
                headers = message.get("headers", [])
            elif message["type"] == "http.response.body":
                assert not complete, "a body after the answer's end"
                if (part := message.get("body", b"")) and keep_body:
                    parts.append(part)
                if not message.get("more_body", False):
                    complete = True
                    completed.set()

        await self.app(scope, receive, send)
        if status is None or not complete:  # as a server hanging up mid-answer
            raise httpx.RemoteProtocolError("the app ended before its answer", request=request)
        parsed, plain = [], True
        for name, value in headers:
            lower = name.lower()
            parsed.append((name, lower, value))
            if lower == b"content-encoding":
                plain = False
        return parsed_response(status, parsed, WholeBody(b"".join(parts), plain=plain))


def _read_request(
    method: str, url: httpx.URL, headers: httpx.Headers, body: bytes, timeouts: dict[str, Any]
) -> httpx.Request:
    """What `httpx.Request(method, url, headers=headers, stream=ByteStream(body), ...)` is once
    its body is read, from parts made for it alone (`method` in capitals): its constructor
    copied the URL and the headers again (six calls a request)."""
    request = httpx.Request.__new__(httpx.Request)
    request.method = method
    request.url = url
    request.headers = headers
    request.extensions = {"timeout": timeouts}
    request.stream = httpx.ByteStream(body)
    request._content = body  # what `request.read()` would join from the stream
    return request


def _certificate_failure(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure behind a transport error, if that is its cause.

    A certificate that does not verify fails the same way on every try: it is a
    configuration or endpoint fault to fix, not a transient one to retry.
    """
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


def _retryable(error: BaseException) -> bool:
    """Transient failures are retried, except our own breaker's refusal (it would refuse again)."""
    return isinstance(error, BackendTransientError) and not isinstance(error, BackendCircuitOpen)


class ResilientClient:
    """Sends requests to one backend; raises a classified `BackendError` on failure."""

    def __init__(
        self,
        *,
        backend: str,
        base_url: str,
        settings: BackendSettings,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        circuit: CircuitBreaker | None = None,
        budget: ErpBudget | None = None,
        write_budget: ErpBudget | None = None,
    ) -> None:
        """`write_budget`: writes take their slot there, reads from `budget` (Stripe
        counts them apart); without it every request takes from `budget`."""
        self.backend = backend
        self.settings = settings
        self.budget = budget
        self.write_budget = write_budget
        self.circuit = circuit or CircuitBreaker(
            backend,
            failure_threshold=settings.circuit_failure_threshold,
            reset_seconds=settings.circuit_reset_seconds,
        )
        self._stop_attempts = stop_after_attempt(settings.retry_attempts)
        self._retry = retry_if_exception(_retryable)
        self._backoff = wait_exponential_jitter(
            multiplier=settings.retry_initial_backoff_seconds,
            jitter=settings.retry_initial_backoff_seconds,
            max=settings.retry_max_backoff_seconds,
        )
        self._transport = transport or http_transport(settings)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers or {}),
            transport=self._transport,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout_seconds,
                read=settings.read_timeout_seconds,
                write=settings.write_timeout_seconds,
                pool=settings.pool_timeout_seconds,
            ),
        )
        base = self._client.base_url
        self._base = base
        self._base_url = str(base.copy_with(raw_path=base.raw_path))  # its path, even `/`
        # The parsed base its plain relative URLs are joined to (`_join`), its path `/` when
        # empty, if it has no query or fragment to drop.
        self._plain_base = (
            base._uri_reference._replace(path=base.raw_path.decode("ascii"))
            if not base.query and not base.fragment
            else None
        )
        self._absolute_url = lru_cache(maxsize=URL_CACHE_SIZE)(self._join)
        # What `AsyncClient.build_request` merges into every request, taken once: it copied
        # and re-parsed the client's headers and rebuilt its timeouts each time.
        self._default_headers = self._client.headers
        self._timeouts = self._client.timeout.as_dict()
        self._attempt_timeouts = self._timeouts_within_attempts(settings)
        # A relative URL's request starts with these: the `Host` httpx would put first, then
        # the client's headers (`_prepared`).
        self._relative_headers = httpx.Headers([(b"Host", base.netloc), *self._client.headers.raw])

    def _timeouts_within_attempts(self, settings: BackendSettings) -> dict[str, Any]:
        """The timeouts an attempt's request carries. An in-process app's read timeout bounds
        its whole exchange; when it is no shorter than the time budget, the attempt's own
        cut (armed first, at most the budget away) always comes first: the request goes
        without it, one timer a request less. A wrapped transport keeps it."""
        read = self._timeouts.get("read")
        if (
            isinstance(self._transport, InProcessTransport)
            and read is not None
            and read >= settings.retry_budget_seconds
        ):
            return {**self._timeouts, "read": None}
        return self._timeouts

    async def aclose(self) -> None:
        for budget in (self.budget, self.write_budget):
            if budget is not None:
                await budget.aclose()
        await self._client.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        idempotent: bool | None = None,
        params: Any = None,
        json_body: Any = None,
        form: Any = None,
        headers: Mapping[str, str] | None = None,
        decode_error: ErrorDecoder | None = None,
        cost: int = 1,
        priority: Priority | None = None,
    ) -> httpx.Response:
        """Send one logical request, retrying transient faults when that is safe.

        `idempotent` defaults to what the method and an `Idempotency-Key` header say;
        adapters pass `True` for creates the backend deduplicates on its own (for
        example by external document number). `decode_error` reads the vendor's
        error body so the raised error carries the vendor's code and message. `cost`
        (the operations a batch request carries) and `priority` (the work's,
        `budget.current_priority`, when not given) are what the request takes of the
        ERP's budget; bulk work waits for its room up to the budget's own
        wait, and its time budget starts once it has it (nobody waits on its answer).
        """
        method = method.upper()
        request_headers = dict(headers or {})
        if (cid := correlation_id.get()) is not None:
            request_headers.setdefault("X-Correlation-ID", cid)
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS or "Idempotency-Key" in request_headers
        priority = priority or current_priority.get()
        budget = self.settings.retry_budget_seconds
        started = time.monotonic()
        attempt = partial(
            self._attempt,
            method,
            url,
            operation=operation,
            deadline=started + budget,
            cost=cost,
            priority=priority,
            params=params,
            json_body=json_body,
            form=form,
            headers=request_headers,
            decode_error=decode_error,
        )
        response: httpx.Response
        try:
            self.circuit.check(operation)  # while open: no retry machinery, no network
            if idempotent and self.settings.retry_attempts > 1:
                response = await self._with_retries(attempt, started)
            else:  # sent once: the retry machinery would only cost its bookkeeping
                response = await attempt()
        except BackendError as error:
            metrics.observe_request(self.backend, operation, time.monotonic() - started, error)
            raise
        metrics.observe_request(self.backend, operation, time.monotonic() - started, None)
        return response

    async def _with_retries(
        self, attempt: Callable[[], Awaitable[httpx.Response]], started: float
    ) -> httpx.Response:
        """`attempt` until it succeeds or may not be retried; tenacity's loop only once a
        first attempt failed in a way worth retrying (the loop costs ~150 calls a request).

        The loop starts with that failure as its first attempt, its stop counts the time
        already spent from `started`: the same attempts, waits and budget as a loop
        entered before the first attempt.
        """
        try:
            return await attempt()
        except Exception as error:
            if not _retryable(error):
                raise
            first: Exception | None = error

        async def again() -> httpx.Response:
            nonlocal first
            if first is not None:
                error, first = first, None
                raise error
            return await attempt()

        spent = time.monotonic() - started
        return await AsyncRetrying(
            stop=self._stop_attempts
            | stop_before_delay(self.settings.retry_budget_seconds - spent),
            wait=self._wait,
            retry=self._retry,
            reraise=True,
            before_sleep=self._log_retry,
        )(again)

    async def _attempt(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        deadline: float,
        cost: int,
        priority: Priority,
        params: Any,
        json_body: Any,
        form: Any,
        headers: dict[str, str],
        decode_error: ErrorDecoder | None,
    ) -> httpx.Response:
        """One attempt within the request budget (a slot of the ERP's, if any), through the
        circuit breaker, cut short when the time budget runs out."""
        async with self._admitted(method, operation, deadline, cost=cost, priority=priority):
            if priority is Priority.BULK:
                deadline = max(deadline, time.monotonic() + self.settings.retry_budget_seconds)
            with self.circuit.call(operation):
                try:
                    async with asyncio.timeout(deadline - time.monotonic()) as timeout:
                        return await self.send_once(
                            method,
                            url,
                            operation=operation,
                            params=params,
                            json_body=json_body,
                            form=form,
                            headers=headers,
                            decode_error=decode_error,
                            timeouts=self._attempt_timeouts,
                        )
                except TimeoutError as exc:
                    if not timeout.expired():
                        raise
                    raise BackendTimeout(
                        f"{self.backend} did not answer {operation} within the "
                        f"{self.settings.retry_budget_seconds}s budget",
                        backend=self.backend,
                        operation=operation,
                    ) from exc

    def probe_slot(self) -> AbstractAsyncContextManager[None]:
        """A readiness probe counts in the ERP's budget too, but never queues behind work."""
        if self.budget is None:
            return nullcontext()
        return self.budget.slot(
            operation="readiness",
            priority=Priority.INFORMATIONAL,
            deadline=time.monotonic() + PROBE_BUDGET_WAIT_SECONDS,
        )

    def held_slot(
        self, *, cost: int, priority: Priority | None = None
    ) -> AbstractAsyncContextManager[None]:
        """One slot of the ERP's budget for the next requests (`cost` operations
        together), sent one after the other within the scope: they draw on it instead of
        taking a slot each (`ErpBudget.held`). Requests beyond it take their own, as do
        writes with a `write_budget` of their own (the slot is `budget`'s)."""
        if self.budget is None:
            return nullcontext()
        return self.budget.held(cost=cost, priority=priority or current_priority.get())

    def _admitted(
        self, method: str, operation: str, deadline: float, *, cost: int, priority: Priority
    ) -> AbstractAsyncContextManager[None]:
        """A slot of the ERP's budget, waited for only while the attempt would still have
        `REQUEST_SHARE_OF_BUDGET` of the time budget left: a request sent with almost no
        time would be cut mid-flight, leaving a write's outcome unknown. Bulk work waits
        the budget's own wait, and gets its time budget afresh once admitted: either way
        the attempt ends by `ends_by`, which a held slot's lease must outlast."""
        budget = self.budget
        if self.write_budget is not None and method not in READ_METHODS:
            budget = self.write_budget
        if budget is None:
            return nullcontext()
        if priority is Priority.BULK:
            until = None
            ends_by = max(deadline, time.monotonic() + self.settings.retry_budget_seconds)
        else:
            until = deadline - self.settings.retry_budget_seconds * REQUEST_SHARE_OF_BUDGET
            ends_by = deadline
        return budget.slot(
            operation=operation, cost=cost, priority=priority, deadline=until, ends_by=ends_by
        )

    async def send_once(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        params: Any,
        json_body: Any,
        form: Any,
        headers: dict[str, str],
        decode_error: ErrorDecoder | None,
        timeouts: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """One request, no retry; `timeouts` (the client's when not given) go with it."""
        request = self._request(method, url, params, json_body, form, headers, timeouts)
        try:
            response = await self._exchange(request)
        except httpx.TimeoutException as exc:
            raise BackendTimeout(
                f"{self.backend} timed out ({type(exc).__name__})",
                backend=self.backend,
                operation=operation,
            ) from exc
        except httpx.TransportError as exc:
            if (failure := _certificate_failure(exc)) is not None:
                raise BackendContractError(
                    f"{self.backend}: the TLS certificate of {request.url.host} failed "
                    f"verification ({failure.verify_message}); fix the endpoint's certificate, "
                    f"or trust the authority that signed it with "
                    f"LEDGERGATE_{self.backend.upper()}__CA_BUNDLE",
                    backend=self.backend,
                    operation=operation,
                ) from exc
            raise BackendTransientError(
                f"{self.backend} unreachable ({type(exc).__name__})",
                backend=self.backend,
                operation=operation,
            ) from exc
        except httpx.DecodingError as exc:
            raise BackendContractError(
                f"{self.backend} answered {operation} with a body that cannot be decoded",
                backend=self.backend,
                operation=operation,
            ) from exc
        if 200 <= response.status_code < 300:  # `is_success`, without its two calls
            return response
        raise self.classify(response, operation=operation, decode_error=decode_error)

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        """The request through the transport, its answer read whole.

        What `AsyncClient.send` does, without its layers these clients never use (no
        auth flow, no redirects followed, no event hooks, no proxy: a client given its
        transport mounts none) and without its cookie jar: a backend is called with its
        credentials in headers, and the jar read every answer's headers into a
        `urllib` request and an `email` message, a tenth of the Python work per request.
        """
        response = await self._transport.handle_async_request(request)
        response._request = request  # what its `request` setter sets
        stream = response.stream
        if isinstance(stream, WholeBody) and stream.plain:
            # Nothing to decode nor to wait for: what `aread` would join, without its
            # iterators, decoder lookup and contexts (about 40 calls an answer).
            response._content = stream.body
            response._num_bytes_downloaded = len(stream.body)
            response.is_stream_consumed = response.is_closed = True
            return response
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    @staticmethod
    def _with_defaults(defaults: httpx.Headers, headers: Mapping[str, str]) -> httpx.Headers:
        """`defaults`, with the request's own headers in place of any of the same name (as
        `Headers.__setitem__` puts them: the first of the name replaced, the others
        dropped), written into its parsed list (no list built a header to find its name)."""
        merged = httpx.Headers(defaults)  # a copy of the parsed list
        items = merged._list
        for name, value in headers.items():
            key = name.encode()
            lower = key.lower()
            first = None
            for index in range(len(items) - 1, -1, -1):  # from the end: deleting keeps indices
                if items[index][1] == lower:
                    if first is not None:
                        del items[first]
                    first = index
            if first is None:
                items.append((key, lower, value.encode()))
            else:
                items[first] = (key, lower, value.encode())
        return merged

    def _request(
        self,
        method: str,
        url: str,
        params: Any,
        json_body: Any,
        form: Any,
        headers: Mapping[str, str],
        timeouts: dict[str, Any] | None = None,
    ) -> httpx.Request:
        """The request as the httpx client builds it.

        For a relative URL with a JSON body or none, its headers are complete before httpx
        sees them, so that it does not parse every one of them again to add `Host` and the
        body's (about 200 calls a request), and its body is its content as it is (httpx
        would join it again through its stream). Others (query parameters, a form, another
        host, a body-less write, for which httpx puts `Content-Length: 0` second) are
        built by httpx. `timeouts` are the client's when not given."""
        timeouts = timeouts or self._timeouts
        if (
            params is not None
            or form is not None
            or ABSOLUTE_URL.match(url)
            or (json_body is None and method in BODY_METHODS)
        ):
            return httpx.Request(
                method,
                self._absolute_url(url),
                params=params,
                json=json_body,
                data=form,
                headers=self._with_defaults(self._default_headers, headers),
                extensions={"timeout": timeouts},
            )
        merged = self._with_defaults(self._relative_headers, headers)
        body = b""
        if json_body is not None:
            body = JSON.encode(json_body).encode()
            named = [lower for _, lower, _ in merged._list]  # by the client or the request
            if b"content-length" not in named:
                merged._list.append((b"Content-Length", b"content-length", b"%d" % len(body)))
            if b"content-type" not in named:
                merged._list.append((b"Content-Type", b"content-type", b"application/json"))
        return _read_request(method, self._absolute_url(url), merged, body, timeouts)

    def _join(self, url: str) -> httpx.URL:
        """`url` against the base URL, as httpx joins them, parsed once (httpx parses a
        relative URL, then its join again); an absolute URL (a next page's link) as it is.

        A plain relative URL (`PLAIN_URL`, no `.` segment) is not parsed at all: httpx
        would keep it as it is, after checking it two calls a character (a new document's
        lines URL, which no cache holds, cost 500 calls).
        """
        if ABSOLUTE_URL.match(url):
            return httpx.URL(url)
        base = self._plain_base
        if base is not None and PLAIN_URL.fullmatch(url):
            path, mark, query = url.lstrip("/").partition("?")
            if "/." not in path and not path.startswith("."):
                joined = httpx.URL(self._base)  # a copy, not parsed again
                joined._uri_reference = base._replace(
                    path=base.path + path, query=query if mark else None
                )
                return joined
        return httpx.URL(self._base_url + url.lstrip("/"))

    def classify(
        self,
        response: httpx.Response,
        *,
        operation: str,
        decode_error: ErrorDecoder | None = None,
    ) -> BackendError:
        """Map a non-2xx response to the error class that says what to do about it."""
        status = response.status_code
        vendor = decode_error(response) if decode_error is not None else None
        context: dict[str, Any] = {
            "backend": self.backend,
            "operation": operation,
            "vendor_status": status,
            "vendor_code": vendor.code if vendor else None,
            "vendor_message": vendor.message if vendor else None,
        }
        message = f"{self.backend} answered {status} to {operation}"
        if status in TRANSIENT_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return BackendTransientError(message, retry_after=retry_after, **context)
        if status in AUTH_STATUSES:
            return BackendAuthError(message, **context)
        if status == 404:
            return BackendNotFound(message, **context)
        if 400 <= status < 500:
            return BackendBusinessError(message, **context)
        return BackendContractError(message, **context)

    def _wait(self, state: RetryCallState) -> float:
        """Backoff, or longer when the backend said `Retry-After`.

        Never shortened to fit the budget: `stop_before_delay` gives up instead of
        retrying earlier than the backend asked.
        """
        backoff = self._backoff(state)
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            backoff = max(backoff, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        return backoff

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        metrics.count_retry(self.backend, getattr(error, "operation", "unknown"))
        logger.warning(
            "backend.retry",
            extra={
                "backend": self.backend,
                "operation": getattr(error, "operation", None),
                "attempt": state.attempt_number,
                "error": str(error),
            },
        )


def parse_body(response: httpx.Response, model: type[M], *, backend: str, operation: str) -> M:
    """Validate a backend's JSON body against `model`; anything else is a contract error."""
    return parse_json(
        response.content, model, status=response.status_code, backend=backend, operation=operation
    )


def parse_json(
    content: bytes | str, model: type[M], *, status: int, backend: str, operation: str
) -> M:
    """`parse_body` for a JSON text that came with `status` (one answer of a batch)."""
    try:
        return model.model_validate_json(content)
    except (ValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        error = BackendContractError(
            f"{backend} answered {operation} with a body outside its contract",
            backend=backend,
            operation=operation,
            vendor_status=status,
        )
        metrics.count_failure(error)
        raise error from exc


def map_record(
    convert: Callable[..., T], *args: Any, backend: str, operation: str, **kwargs: Any
) -> T:
    """`convert(*args, **kwargs)`; a value the mapping refuses (`ValueError`) is a record
    outside the backend's contract."""
    try:
        return convert(*args, **kwargs)
    except ValueError as exc:
        raise BackendContractError(
            f"{backend} answered {operation} with a record outside its contract: {exc}",
            backend=backend,
            operation=operation,
        ) from exc


async def probe(client: ResilientClient, path: str) -> str:
    """One quick GET for readiness: `ok`, or the class of the failure (no retries).

    A half-open circuit is probed through the breaker, so the answer closes (or opens)
    it; any other state is only observed: the GET goes around the breaker.
    """

    async def get() -> None:
        await client.send_once(
            "GET",
            path,
            operation="readiness",
            params=None,
            json_body=None,
            form=None,
            headers={},
            decode_error=None,
        )

    try:
        async with client.probe_slot():
            if client.circuit.state is CircuitState.HALF_OPEN:
                with client.circuit.call("readiness"):
                    await get()
            else:
                await get()
    except ErpBudgetExhausted:
        return "ok"  # no room in the ERP's budget: the connection is busy at its limit, not down
    except BackendError as error:
        return error.error_class.value
    return "ok"
