"""What one posting writes to the log, and what writing it costs, counted.

A posting wrote five INFO lines (its request's and one per step of its run, each some 65
calls through the logging machinery, C functions counted): now its request's and its run's,
the run's steps in that one line.
"""

import json
import logging
from typing import Any

from tests.conftest import Gateway
from tests.integration.test_invoice_posting import post, register
from tests.support.json_log import json_log
from tests.support.python_calls import python_calls

# Python calls of the logging machinery (the standard library's, pythonjsonlogger's and
# ours) in one posting at INFO, its checks of a logger's level aside (the database driver
# makes a few a statement): 150 before, when its five lines each went through a filter and
# the handler's emit and flush.
LOGGING_CALLS = 36
LOGGING_FILES = ("logging/__init__.py", "pythonjsonlogger/", "governance/logging.py", "run_log.py")
LEVEL_CHECK = ":isEnabledFor"


async def posted_lines(gateway: Gateway, key: str) -> list[dict[str, Any]]:
    """The JSON lines of one posting at INFO, as the gateway serves them (no other
    handler), after one that warmed the caches."""
    invoice_id = await register(gateway)
    with json_log() as lines:
        assert (await post(gateway, await register(gateway), f"{key}-warm")).status_code == 201
        lines.seek(0)
        lines.truncate()
        response = await post(gateway, invoice_id, key)
    assert response.status_code == 201, response.text
    return [json.loads(line) for line in lines.getvalue().splitlines()]


async def test_a_posting_writes_its_request_and_its_run_in_two_lines(gateway: Gateway) -> None:
    run, request = await posted_lines(gateway, "two-lines")
    assert request["message"] == "http.request"
    assert (request["status"], request["route"]) == (201, "/v1/invoices/{invoice_id}/postings")
    assert run["message"] == "workflow.run.succeeded"
    assert (run["level"], run["correlation_id"]) == ("INFO", request["correlation_id"])
    assert (run["workflow"], run["attempt"]) == ("invoice_posting", 1)
    stored = (await gateway.client.get(f"/v1/runs/{run['run_id']}")).json()
    assert run["subject_id"] == stored["subject_id"]
    assert [step["step"] for step in run["steps"]] == [step["name"] for step in stored["steps"]]
    for step in run["steps"]:
        called = step["outcome"] == "succeeded"
        assert step["outcome"] in ("succeeded", "recorded")
        assert (step["duration_ms"] is not None) == called, step


async def test_the_steps_are_on_lines_of_their_own_at_debug(gateway: Gateway) -> None:
    engine_log = logging.getLogger("process_apis.runs.engine")
    engine_log.setLevel(logging.DEBUG)
    try:
        written = await posted_lines(gateway, "debug")
    finally:
        engine_log.setLevel(logging.NOTSET)
    *steps, run, _request = written
    assert run["message"] == "workflow.run.succeeded"
    assert [(line["level"], line["run_id"]) for line in steps] == [("DEBUG", run["run_id"])] * len(
        run["steps"]
    )
    assert [line["message"] for line in steps] == [
        f"workflow.step.{step['outcome']}" for step in run["steps"]
    ]


async def test_a_posting_logs_in_a_few_calls(gateway: Gateway) -> None:
    invoice_id = await register(gateway)
    with json_log():
        assert (await post(gateway, await register(gateway), "calls-warm")).status_code == 201
        with python_calls() as called:
            response = await post(gateway, invoice_id, "calls")
    assert response.status_code == 201, response.text
    logged = [
        call
        for call in called
        if any(name in call for name in LOGGING_FILES) and not call.endswith(LEVEL_CHECK)
    ]
    assert len(logged) <= LOGGING_CALLS, len(logged)
