"""Explicit status machines: each canonical object lists the transitions it allows."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from core.errors import InvalidTransition

S = TypeVar("S", bound=StrEnum)


class StatusMachine(Generic[S]):
    def __init__(self, name: str, transitions: Mapping[S, frozenset[S]]) -> None:
        self.name = name
        self.transitions = transitions

    def can(self, current: S, new: S) -> bool:
        return new in self.transitions.get(current, frozenset())

    def sources(self, new: S) -> frozenset[S]:
        """The statuses from which `new` may be reached."""
        return frozenset(
            current for current, reachable in self.transitions.items() if new in reachable
        )

    def check(self, current: S, new: S) -> S:
        """Return `new` if `current -> new` is allowed, else raise `InvalidTransition`."""
        if not self.can(current, new):
            raise InvalidTransition(
                f"a {self.name} cannot go from {current.value!r} to {new.value!r}",
                current_status=current.value,
                requested_status=new.value,
            )
        return new
