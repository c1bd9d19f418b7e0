"""TLS to a backend: a private CA can be trusted, and a certificate failure is no transient.

A real TLS server on a loopback port, with certificates from a throwaway CA (trustme).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme
from pydantic import ValidationError

from core.errors import ErrorClass
from core.settings import BackendSettings
from system_apis.errors import BackendContractError
from system_apis.http import ResilientClient, http_transport


@dataclass
class TlsBackend:
    url: str
    ca_bundle: Path
    connections: int = 0


@pytest.fixture
async def tls_backend(tmp_path: Path) -> AsyncIterator[TlsBackend]:
    """An HTTPS endpoint on 127.0.0.1 answering `{}`, its certificate signed by a private CA."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_bundle = tmp_path / "private-ca.pem"
    ca.cert_pem.write_to_path(str(ca_bundle))
    backend = TlsBackend(url="", ca_bundle=ca_bundle)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backend.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
        writer.write(b"content-length: 2\r\nconnection: close\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    backend.url = f"https://127.0.0.1:{port}"
    try:
        yield backend
    finally:
        server.close()
        await server.wait_closed()


def client_for(backend: TlsBackend, settings: BackendSettings, tries: list[int]) -> ResilientClient:
    class Counting(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = http_transport(settings)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            tries.append(1)
            return await self.inner.handle_async_request(request)

        async def aclose(self) -> None:
            await self.inner.aclose()

    return ResilientClient(
        backend="erp", base_url=backend.url, settings=settings, transport=Counting()
    )


FAST = {"retry_attempts": 3, "retry_initial_backoff_seconds": 0, "retry_max_backoff_seconds": 0}


async def test_a_certificate_failure_is_a_contract_error_and_not_retried(
    tls_backend: TlsBackend,
) -> None:
    tries: list[int] = []
    client = client_for(tls_backend, BackendSettings(**FAST), tries)  # type: ignore[arg-type]
    try:
        with pytest.raises(BackendContractError) as raised:
            await client.request("GET", "/companies", operation="list_companies")
    finally:
        await client.aclose()

    assert raised.value.error_class is ErrorClass.CONTRACT
    assert len(tries) == 1
    detail = raised.value.detail
    assert "certificate" in detail
    assert "127.0.0.1" in detail
    assert "LEDGERGATE_ERP__CA_BUNDLE" in detail


async def test_a_custom_ca_bundle_is_trusted(tls_backend: TlsBackend) -> None:
    settings = BackendSettings(ca_bundle=tls_backend.ca_bundle, **FAST)  # type: ignore[arg-type]
    client = client_for(tls_backend, settings, [])
    try:
        response = await client.request("GET", "/companies", operation="list_companies")
    finally:
        await client.aclose()

    assert response.json() == {}
    assert tls_backend.connections == 1


def test_a_ca_bundle_that_is_not_there_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="ca_bundle"):
        BackendSettings(ca_bundle=tmp_path / "missing.pem")  # type: ignore[arg-type]


def test_backends_trusting_the_public_cas_share_one_tls_context() -> None:
    """Each TLS context parses the whole CA bundle (about 1 MiB): one per process."""
    erp, crm = http_transport(BackendSettings()), http_transport(BackendSettings())
    assert erp.ssl_context is crm.ssl_context
