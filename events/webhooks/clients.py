"""HTTP clients for deliveries: one pool per endpoint host name.

A delivery connects to the address the guard checked, so connections are pooled by
address. Two host names on one address (endpoints behind the same CDN) must not share
a connection: its TLS handshake named, and its certificate was checked for, only the
first. Each host name therefore gets a client of its own; none follows redirects or
takes a proxy from the environment.
"""

from __future__ import annotations

import httpx

# Clients kept between passes; past this, all are closed at the start of the next pass.
MAX_HOSTS = 512


class HostClients:
    def __init__(
        self, *, timeout: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.timeout = timeout
        self.transport = transport  # tests: a local receiver
        self._clients: dict[str, httpx.AsyncClient] = {}

    def for_host(self, host: str) -> httpx.AsyncClient:
        client = self._clients.get(host)
        if client is None:
            client = httpx.AsyncClient(
                timeout=self.timeout,
                follow_redirects=False,
                trust_env=False,
                transport=self.transport,
            )
            self._clients[host] = client
        return client

    async def trim(self) -> None:
        """Between passes (no delivery in flight): close them all when there are too many."""
        if len(self._clients) > MAX_HOSTS:
            await self.aclose()

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
