"""`python -m chaos.uploaders PORT HEADERS COUNT SECONDS`: slow uploaders, in a process
of their own (the slow-uploads check's attack).

Each opens a connection, sends the headers of an invoice POST from its own address
(`X-Forwarded-For`, the gateway trusting loopback as its proxy) and trickles the
body a byte a second. `ready` is printed once all are trickling; after SECONDS more
the fate of each connection is printed as JSON counts (`open` if it is still up).
Imports nothing heavy, so starting it costs the gateway's host little.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter

UPLOADERS = 200
TRICKLE_SECONDS = 1.0
DECLARED_BYTES = 4096


async def uploader(
    port: int, number: int, headers: str, started: asyncio.Event, stop: asyncio.Event
) -> str:
    """Trickle a body until `stop`; what became of the connection."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        started.set()
        return "refused connection"
    address = f"10.{number // 250}.{number % 250}.1"
    writer.write(
        f"POST /v1/invoices HTTP/1.1\r\nHost: gateway\r\nX-Forwarded-For: {address}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {DECLARED_BYTES}\r\n"
        f"{headers}\r\n".encode()
    )
    started.set()
    answer = asyncio.ensure_future(reader.readline())
    try:
        while not stop.is_set() and not answer.done():
            writer.write(b" ")
            await writer.drain()
            await asyncio.wait([answer], timeout=TRICKLE_SECONDS)
        if not answer.done():
            return "open"
        line = answer.result()
        return line.decode().split(" ", 2)[1] if line else "closed"
    except OSError:
        return "closed"
    finally:
        answer.cancel()
        writer.close()


async def attack(port: int, headers: str, count: int, seconds: float) -> Counter[str]:
    stop = asyncio.Event()
    started = [asyncio.Event() for _ in range(count)]
    tasks = [
        asyncio.create_task(uploader(port, n, headers, started[n], stop)) for n in range(count)
    ]
    await asyncio.gather(*(event.wait() for event in started))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    await asyncio.sleep(seconds)
    stop.set()
    return Counter(await asyncio.gather(*tasks))


if __name__ == "__main__":
    port, headers, count, seconds = sys.argv[1:5]
    fates = asyncio.run(attack(int(port), headers, int(count), float(seconds)))
    sys.stdout.write(json.dumps(fates) + "\n")
