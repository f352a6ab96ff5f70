"""The root logger the runtime sets up: records shaped as AWS's Python runtime writes them."""

from __future__ import annotations

import json
import logging

import pytest

from runtime.log import RuntimeLog, configure_stdlib_logging, current_request_id


@pytest.fixture
def root_logger():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    token = current_request_id.set("req-1")
    yield root
    current_request_id.reset(token)
    root.handlers[:], root.level = saved[0], saved[1]


def emitted(capsys, json_format: bool, log: callable) -> str:
    configure_stdlib_logging(RuntimeLog(json_format=json_format), {"AWS_LAMBDA_LOG_LEVEL": "DEBUG"})
    log(logging.getLogger("app.orders"))
    return capsys.readouterr().out


def test_text_records_carry_python_level_names_and_the_request_id(root_logger, capsys):
    out = emitted(capsys, False, lambda logger: logger.warning("low stock: %d", 3))
    level, timestamp, request_id, message = out.rstrip("\n").split("\t")
    assert (level, request_id, message) == ("[WARNING]", "req-1", "low stock: 3")
    assert timestamp.endswith("Z")


def test_json_records_carry_logger_name_and_extra_fields(root_logger, capsys):
    out = emitted(capsys, True, lambda logger: logger.info("paid", extra={"order_id": 42, "when": object}))
    record = json.loads(out)
    assert record["level"] == "INFO" and record["message"] == "paid" and record["requestId"] == "req-1"
    assert record["logger"] == "app.orders" and record["order_id"] == 42
    assert record["when"] == str(object)  # not JSON: written as text rather than losing the record
    assert "errorType" not in record and "taskName" not in record


def test_json_records_keep_a_dict_message_as_an_object(root_logger, capsys):
    record = json.loads(emitted(capsys, True, lambda logger: logger.error({"event": "refund", "amount": 5})))
    assert record["message"] == {"event": "refund", "amount": 5} and record["level"] == "ERROR"


def test_json_exception_records_split_the_error_into_aws_fields(root_logger, capsys):
    def log_failure(logger: logging.Logger) -> None:
        try:
            {}["sku"]
        except KeyError:
            logger.exception("lookup failed")

    record = json.loads(emitted(capsys, True, log_failure))
    assert record["message"] == "lookup failed"
    assert record["errorType"] == "KeyError" and record["errorMessage"] == "'sku'"
    assert any('{}["sku"]' in frame for frame in record["stackTrace"])
    path, function, line = record["location"].rsplit(":", 2)
    assert path == __file__ and function == "log_failure" and line.isdigit()
