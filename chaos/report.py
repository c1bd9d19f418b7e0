"""What a check found, and its line of output."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape

VERDICTS = {True: "[bold green]PASS[/]", False: "[bold red]FAIL[/]", None: "[yellow]SKIP[/]"}


@dataclass
class Outcome:
    """`passed` is `None` for a check this machine cannot run (said why in `summary`)."""

    check: str
    passed: bool | None
    summary: str
    details: list[str] = field(default_factory=list)
    seconds: float = 0.0


def print_outcome(console: Console, outcome: Outcome) -> None:
    console.print(
        f"{VERDICTS[outcome.passed]}  {outcome.check}: {escape(outcome.summary)} "
        f"[dim]({outcome.seconds:.0f} s)[/]",
        soft_wrap=True,
    )
    for detail in outcome.details:
        console.print(f"      {escape(detail)}", soft_wrap=True)
