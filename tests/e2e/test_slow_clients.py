"""`ledgergate serve` against slow clients, over real sockets: headers have a deadline."""

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway_process import gateway_env, start_gateway, stop

HEADER_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("slow-clients")
    env = gateway_env(
        folder / "ledgergate.db", LEDGERGATE_REQUEST_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT)
    )
    process, base = start_gateway(env, folder / "gateway.log")
    try:
        yield base
    finally:
        stop(process)


def closed_after(base: str, sent: bytes) -> float:
    """Seconds until the server closes a connection that sent `sent` and nothing more."""
    host, port = base.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(sent)
        sock.settimeout(5 * HEADER_TIMEOUT + 2)
        while sock.recv(4096):
            pass
    return time.monotonic() - started


@pytest.mark.parametrize(
    "sent",
    [b"", b"POST /v1/invoices HTTP/1.1\r\nHost: gateway\r\nContent-Type: appl"],
    ids=["nothing", "half the headers"],
)
def test_a_connection_slow_to_send_its_headers_is_closed(served: str, sent: bytes) -> None:
    # asyncio runs a timer up to its clock's resolution early: a few ms of slack below
    assert HEADER_TIMEOUT - 0.01 <= closed_after(served, sent) < HEADER_TIMEOUT + 2


def test_a_prompt_client_is_served_and_no_server_banner_is_sent(served: str) -> None:
    response = httpx.get(f"{served}/healthz")
    assert response.status_code == 200
    assert "server" not in response.headers
