"""Log formatting: one JSON object per line, with structured fields and the request id."""

from __future__ import annotations

import json
import logging

from base_service.logs import JSONFormatter, RequestIdFilter, TextFormatter, request_id_var


def _record(**extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {
            "name": "base_service.poller",
            "levelno": logging.WARNING,
            "levelname": "WARNING",
            "msg": "run failed",
        }
    )
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_lines_carry_the_fields_and_the_request_id() -> None:
    record = _record(action="run_failed", plugin_id="ics")
    token = request_id_var.set("req-1")
    try:
        assert RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = JSONFormatter().format(record)
    assert "\n" not in line
    document = json.loads(line)
    assert document["message"] == "run failed" and document["level"] == "WARNING"
    assert (document["action"], document["plugin_id"], document["request_id"]) == (
        "run_failed",
        "ics",
        "req-1",
    )


def test_no_request_id_outside_a_request() -> None:
    record = _record()
    RequestIdFilter().filter(record)
    assert not hasattr(record, "request_id")


def test_text_lines_end_with_key_values() -> None:
    line = TextFormatter().format(_record(action="run_failed", plugin_id="ics"))
    assert line.endswith("run failed action=run_failed plugin_id=ics")


def test_a_field_cannot_forge_a_line() -> None:
    hostile = "x\n2026-12-03 00:00:00,000 INFO    base_service.poller: run succeeded\r"
    line = TextFormatter().format(_record(example_event_id=hostile))
    assert "\n" not in line and "\r" not in line
    assert "x\\n2026-12-03" in line
