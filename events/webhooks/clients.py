"""HTTP clients for deliveries: one keep-alive pool per endpoint host name.

A delivery connects to the address the guard checked, so connections are pooled by
address. Two host names on one address (endpoints behind the same CDN) must not share
a connection: its TLS handshake named, and its certificate was checked for, only the
first. Each host name therefore gets a client of its own; none follows redirects or
takes a proxy from the environment.

A host gets at most `concurrency` deliveries at once, each on a connection of its own
(`slot`): a few kept-alive connections carry more requests a second than many, and
a delivery waiting for its slot has not started, so the wait never counts against
its timeout.
"""

from __future__ import annotations

import asyncio

import httpx

# Clients kept between passes; past this, all are closed at the start of the next pass.
MAX_HOSTS = 512


class HostClients:
    def __init__(
        self,
        *,
        timeout: float,
        concurrency: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.timeout = timeout
        self.concurrency = concurrency
        self.transport = transport  # tests: a local receiver
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}

    def slot(self, url: str) -> asyncio.Semaphore:
        """What a delivery to `url` holds while it is sent: one of its host's slots."""
        host = httpx.URL(url).netloc.decode("ascii")
        found = self._slots.get(host)
        if found is None:
            found = self._slots[host] = asyncio.Semaphore(self.concurrency)
        return found

    def for_host(self, host: str) -> httpx.AsyncClient:
        client = self._clients.get(host)
        if client is None:
            limit = httpx.Limits(
                max_connections=self.concurrency, max_keepalive_connections=self.concurrency
            )
            client = httpx.AsyncClient(
                timeout=self.timeout,
                limits=limit,
                follow_redirects=False,
                trust_env=False,
                transport=self.transport,
            )
            self._clients[host] = client
        return client

    async def trim(self) -> None:
        """Between passes (no delivery in flight): close them all when there are too many."""
        if max(len(self._clients), len(self._slots)) > MAX_HOSTS:
            await self.aclose()

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        self._slots = {}
        for client in clients:
            await client.aclose()
