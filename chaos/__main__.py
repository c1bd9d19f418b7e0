"""`python -m chaos`: run the reliability checks, one line each; exit 1 if any fails."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from rich.console import Console

from chaos import (
    crash,
    database,
    lifecycle_month,
    nats_restart,
    overload,
    registration,
    relay_kill,
    slow_uploads,
    storm,
    usage_storm,
    webhook_outage,
)
from chaos.report import Outcome, print_outcome

LOGS = Path(__file__).resolve().parent.parent / "var" / "chaos"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--postings", type=int, default=500, help="fault storm postings")
    parser.add_argument("--crash-postings", type=int, default=200, help="crash burst postings")
    parser.add_argument(
        "--restart-postings", type=int, default=200, help="database restart burst postings"
    )
    parser.add_argument("--outage", type=float, default=2.0, help="seconds PostgreSQL stays down")
    parser.add_argument(
        "--overload-seconds", type=float, default=8.0, help="seconds of load at twice the rate"
    )
    parser.add_argument(
        "--registrations", type=int, default=200, help="registration retry storm registrations"
    )
    parser.add_argument("--events", type=int, default=6000, help="events per event check")
    parser.add_argument(
        "--nats-outage", type=float, default=10.0, help="seconds the private NATS stays down"
    )
    parser.add_argument("--webhook-events", type=int, default=900, help="webhook outage events")
    parser.add_argument(
        "--usage-events", type=int, default=5000, help="usage duplicate storm distinct events"
    )
    parser.add_argument(
        "--lifecycle-customers", type=int, default=40, help="lifecycle month customers"
    )
    parser.add_argument(
        "--only",
        choices=[
            "storm",
            "registration",
            "crash",
            "database",
            "overload",
            "slow-uploads",
            "nats-restart",
            "webhook-outage",
            "relay-kill",
            "usage-storm",
            "lifecycle-month",
        ],
        action="append",
    )
    args = parser.parse_args()

    logs = LOGS / datetime.now().strftime("%Y%m%d-%H%M%S")
    logs.mkdir(parents=True, exist_ok=True)
    checks: dict[str, tuple[str, Callable[[], Outcome]]] = {
        "storm": (storm.CHECK, lambda: storm.run(args.postings, logs)),
        "registration": (
            registration.CHECK,
            lambda: registration.run(args.registrations, logs),
        ),
        "crash": (crash.CHECK, lambda: crash.run(args.crash_postings, logs)),
        "database": (
            database.CHECK,
            lambda: database.run(args.restart_postings, logs, outage=args.outage),
        ),
        "overload": (overload.CHECK, lambda: overload.run(args.overload_seconds, logs)),
        "slow-uploads": (slow_uploads.CHECK, lambda: slow_uploads.run(logs)),
        "nats-restart": (
            nats_restart.CHECK,
            lambda: nats_restart.run(args.events, logs, outage=args.nats_outage),
        ),
        "webhook-outage": (
            webhook_outage.CHECK,
            lambda: webhook_outage.run(args.webhook_events, logs),
        ),
        "relay-kill": (relay_kill.CHECK, lambda: relay_kill.run(args.events * 4, logs)),
        "usage-storm": (usage_storm.CHECK, lambda: usage_storm.run(args.usage_events, logs)),
        "lifecycle-month": (
            lifecycle_month.CHECK,
            lambda: lifecycle_month.run(args.lifecycle_customers, 30, logs),
        ),
    }
    console = Console(highlight=False)
    started = time.monotonic()
    outcomes = []
    for key, (name, check) in checks.items():
        if args.only and key not in args.only:
            continue
        began = time.monotonic()
        try:
            outcome = check()
        except Exception as error:  # a check that cannot finish has failed, and says why
            (logs / f"{key}-error.log").write_text(traceback.format_exc())
            outcome = Outcome(name, False, f"did not finish: {error!r}")
        outcome.seconds = time.monotonic() - began
        print_outcome(console, outcome)
        outcomes.append(outcome)
    failed = sum(o.passed is False for o in outcomes)
    passed = sum(o.passed is True for o in outcomes)
    console.print(
        f"chaos: {passed} passed, {failed} failed in {time.monotonic() - started:.0f} s "
        f"[dim](logs in {logs})[/]",
        soft_wrap=True,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
