import io
import json
import logging

from app.governance.logging import configure_logging
from core.context import correlation_id


def test_log_lines_are_json_with_the_correlation_id() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("INFO")
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    token = correlation_id.set("cid-7")
    try:
        logging.getLogger("ledgergate.test").info("erp.post_invoice.retry", extra={"attempt": 2})
    finally:
        correlation_id.reset(token)
        root.handlers[:], root.level = saved_handlers, saved_level
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["message"] == "erp.post_invoice.retry"
    assert line["correlation_id"] == "cid-7"
    assert line["attempt"] == 2
    assert line["level"] == "INFO"
