"""The answer to a usage batch, built one event at a time: outcomes and their problems,
each problem pointing into the batch (`#/events/3/quantity`)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from core.errors import LedgergateError
from core.problems import Problem, error_document
from process_apis.usage.contract import Resolved
from process_apis.usage.errors import InvalidUsageEvent, UsageEventConflict
from process_apis.usage.schemas import UsageBatchResult, UsageOutcome

INSTANCE = "/v1/usage-events"


def _pointer(index: int, *path: object) -> str:
    return "/".join((f"#/events/{index}", *(str(part) for part in path))).rstrip("/")


def _repointed(problem: Problem, first: int, index: int) -> Problem:
    """`problem` of the event at `first`, its pointers moved to the event at `index`."""
    errors = [
        error.model_copy(
            update={"pointer": (error.pointer or "").replace(_pointer(first), _pointer(index), 1)}
        )
        for error in problem.errors or []
    ]
    return problem.model_copy(update={"errors": errors})


class Answers:
    def __init__(self, correlation_id: str | None) -> None:
        self.correlation_id = correlation_id
        self._results: dict[int, dict[str, Any]] = {}

    def _problem(self, error: LedgergateError, errors: list[dict[str, Any]]) -> Problem:
        document = error_document(error, instance=INSTANCE, correlation_id=self.correlation_id)
        return Problem.model_validate({**document, "errors": errors})

    def invalid(self, index: int, raw: object, error: ValidationError) -> None:
        """An event that is not a usage event: one entry per bad field."""
        errors = [
            {"detail": e["msg"], "code": e["type"], "pointer": _pointer(index, *e["loc"])}
            for e in error.errors(include_url=False)
        ]
        problem = self._problem(InvalidUsageEvent("the event is invalid; see `errors`"), errors)
        event_id = raw.get("id") if isinstance(raw, dict) else None
        self._results[index] = {
            "index": index,
            "id": event_id if isinstance(event_id, str) else None,
            "outcome": UsageOutcome.REJECTED,
            "problem": problem,
        }

    def refused(self, index: int, event_id: str, error: LedgergateError, field: str) -> None:
        """A well-formed event the contract, a cap or an earlier body refuses."""
        errors = [{"detail": error.detail, "code": error.slug, "pointer": _pointer(index, field)}]
        self._results[index] = {
            "index": index,
            "id": event_id,
            "outcome": UsageOutcome.REJECTED,
            "problem": self._problem(error, errors),
        }

    def accepted(self, index: int, event_id: str, resolved: Resolved, *, flagged: bool) -> None:
        # A plain dict, a thousand per batch on the hot path: `result` validates them all
        # in one pass.
        self._results[index] = {
            "index": index,
            "id": event_id,
            "outcome": UsageOutcome.ACCEPTED,
            "subscription_id": resolved.subscription.id,
            "period_start": resolved.period.start,
            "period_end": resolved.period.end,
            "late": resolved.late,
            "flagged": flagged,
        }

    def duplicate(self, index: int, event_id: str) -> None:
        self._results[index] = {"index": index, "id": event_id, "outcome": UsageOutcome.DUPLICATE}

    def copy_of(self, index: int, event_id: str, first: int, *, same: bool) -> None:
        """A later event of the batch under an id an earlier one used: the first wins."""
        earlier = self._results[first]
        if not same:
            self.refused(
                index,
                event_id,
                UsageEventConflict(
                    f"event {event_id} appears earlier in the batch with another body"
                ),
                "id",
            )
        elif earlier["outcome"] == UsageOutcome.REJECTED and earlier.get("problem") is not None:
            self._results[index] = {
                **earlier,
                "index": index,
                "problem": _repointed(earlier["problem"], first, index),
            }
        else:
            self.duplicate(index, event_id)

    def result(self) -> UsageBatchResult:
        results = [self._results[index] for index in sorted(self._results)]
        count = dict.fromkeys(UsageOutcome, 0)
        for result in results:
            count[result["outcome"]] += 1
        return UsageBatchResult.model_validate(
            {
                "accepted": count[UsageOutcome.ACCEPTED],
                "duplicate": count[UsageOutcome.DUPLICATE],
                "rejected": count[UsageOutcome.REJECTED],
                "results": results,
            }
        )
