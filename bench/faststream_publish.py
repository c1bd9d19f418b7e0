"""FastStream's NATS publisher against nats-py, the same acknowledged JetStream publishes.

FastStream is not a dependency of the project: `bench.events` runs this module with
`uv run --with faststream[nats]==<version>`. Each client publishes the same messages (the
relay's subjects, payloads and `Nats-Msg-Id`) to a stream of its own, one at a time
(each acknowledgement awaited) and in windows of the relay's batch (acknowledgements
awaited together), alternating so both see the same machine. Prints one JSON object:
messages per second per client and mode.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from importlib.metadata import version

import nats
from faststream.nats import NatsBroker  # type: ignore[import-not-found]

from bench.eventkit import WINDOW, delete_streams, events, new_tag
from events.nats import NatsSink
from events.relay import BATCH

Message = tuple[str, bytes, dict[str, str]]
Publish = Callable[[Message], Awaitable[object]]


def messages(sink: NatsSink, count: int) -> list[Message]:
    return [
        (sink.subject(e.type), e.model_dump_json().encode(), {"Nats-Msg-Id": e.id})
        for e in events(new_tag("fs"), 0, count, 50)
    ]


async def timed(publish: Publish, batch: Sequence[Message], window: int) -> float:
    """Messages per second publishing `batch`, `window` acknowledgements awaited together."""
    started = time.perf_counter()
    for first in range(0, len(batch), window):
        await asyncio.gather(*(publish(m) for m in batch[first : first + window]))
    return len(batch) / (time.perf_counter() - started)


async def compare(url: str, count: int, rounds: int) -> dict[str, object]:
    prefixes = {"nats-py": new_tag("npy"), "faststream": new_tag("fst")}
    sinks = {name: NatsSink(url, prefix=p, duplicate_window=WINDOW) for name, p in prefixes.items()}
    client = await nats.connect(url)
    stream = client.jetstream()
    broker = NatsBroker(url)
    await broker.connect()
    for sink in sinks.values():
        await sink.ensure_streams(stream)

    async def nats_py(message: Message) -> object:
        subject, payload, headers = message
        return await stream.publish(subject, payload, headers=headers)

    async def faststream(message: Message) -> object:
        subject, payload, headers = message
        name = sinks["faststream"].stream_name("exception")
        return await broker.publish(payload, subject, headers=headers, stream=name)

    clients: dict[str, Publish] = {"nats-py": nats_py, "faststream": faststream}
    rates: dict[str, list[float]] = {}
    try:
        for _ in range(rounds):
            for mode, window in (("one at a time", 1), (f"window {BATCH}", BATCH)):
                for name, publish in clients.items():
                    batch = messages(sinks[name], count)
                    rate = await timed(publish, batch, window)
                    rates.setdefault(f"{name}, {mode}", []).append(rate)
    finally:
        await broker.stop()
        await client.close()
        for prefix in prefixes.values():
            await delete_streams(url, prefix)
    return {
        "faststream": version("faststream"),
        "nats-py": version("nats-py"),
        "rates": {key: max(values) for key, values in rates.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faststream_publish")
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(compare(args.url, args.count, args.rounds))))  # noqa: T201


if __name__ == "__main__":
    main()
