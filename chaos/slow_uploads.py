"""Slow uploads: 200 clients trickling request bodies while normal traffic goes on.

First the sustainable rate of governed reads is measured: a closed loop of `CLIENTS`
clients reading an invoice. Then 200 uploaders open connections, send the headers of
an invoice POST and trickle its body a byte a second, each from its own address
(behind a trusted proxy, so the per-address upload cap does not catch them and the
gateway's other defences must hold), while the same closed loop reads again. The
gateway runs with its default limits. A request still sending its body holds no
admission slot, so the readers must keep at least `MIN_SHARE` of their throughput,
with no refusal and no error (the reads are measured before, during and after the
attack, and compared with the mean of before and after, so that other load on the
host is not blamed on the uploaders); every uploader must still be connected, waiting for its
body deadline (`request_body_timeout_seconds`), not refused for overload.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

from chaos.estate import Estate, estate
from chaos.load import client, register_invoices
from chaos.overload import _wire, closed_loop, counts, ms
from chaos.report import Outcome
from chaos.uploaders import UPLOADERS

CHECK = "slow uploads"
CLIENTS = 16
WARM_SECONDS = 2.0
MEASURE_SECONDS = 6.0
MIN_SHARE = 0.9


def run(logs: Path) -> Outcome:
    settings = {"LEDGERGATE_RATE_LIMITS__TRUSTED_PROXIES": '["127.0.0.1"]'}
    with estate("slow-uploads", logs, **settings) as place:
        return asyncio.run(_slow_uploads(place))


async def _slow_uploads(place: Estate) -> Outcome:
    base = place.start_gateway()
    headers = place.headers()
    async with client(base, headers) as http:
        (invoice_id,) = await register_invoices(http, 1)
    path = f"/v1/invoices/{invoice_id}"
    port = int(place.env["LEDGERGATE_PORT"])
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    async with _wire(place, headers) as wire:
        await closed_loop(wire, path, CLIENTS, WARM_SECONDS)
        before = await closed_loop(wire, path, CLIENTS, MEASURE_SECONDS)
        # The uploaders run in a lean process of their own, so they cannot slow the
        # readers' loop; it says `ready` once every one is connected and trickling.
        attack = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "chaos.uploaders", str(port), extra, str(UPLOADERS)),
            *(str(MEASURE_SECONDS + 2),),
            stdout=asyncio.subprocess.PIPE,
        )
        assert attack.stdout is not None
        await attack.stdout.readline()
        began = time.perf_counter()
        attacked = await closed_loop(wire, path, CLIENTS, MEASURE_SECONDS)
        elapsed = time.perf_counter() - began
        fates = Counter(json.loads((await attack.communicate())[0]))
        after = await closed_loop(wire, path, CLIENTS, MEASURE_SECONDS)

    quiet = before + after
    sustainable = sum(r.status == 200 for r in quiet) / (2 * MEASURE_SECONDS)
    served = [r for r in attacked if r.status == 200]
    throughput = len(served) / elapsed
    share = throughput / sustainable if sustainable else 0.0
    summary = (
        f"reads alone {sustainable:.0f}/s ({ms(quiet)}); with {UPLOADERS} slow uploaders "
        f"{throughput:.0f}/s = {share:.0%} of that ({ms(served)}; {counts(attacked)}); "
        f"uploaders at the end: {', '.join(f'{k}: {n}' for k, n in fates.most_common())}"
    )
    details = []
    if share < MIN_SHARE:
        details.append(f"reads kept under {MIN_SHARE:.0%} of their throughput")
    if len(served) != len(attacked):
        details.append(f"reads not served: {len(attacked) - len(served)}")
    if fates["open"] != UPLOADERS:
        details.append("an uploader was cut off before its body deadline")
    return Outcome(CHECK, not details, summary, details)
