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


@pytest.mark.parametrize(
    ("log", "level"),
    [
        (lambda logger: logger.warning("w"), "WARN"),
        (lambda logger: logger.critical("c"), "FATAL"),
        (lambda logger: logger.log(25, "custom"), "INFO"),
        (lambda logger: logger.debug("d"), "DEBUG"),
    ],
)
def test_json_levels_are_the_ones_lambda_filters_on(root_logger, capsys, log, level):
    """Lambda counts a JSON line whose level it does not know as INFO: WARNING would pass a WARN filter."""
    assert json.loads(emitted(capsys, True, log))["level"] == level


def test_the_runtimes_own_warnings_follow_the_same_names():
    lines: list[str] = []

    class Sink:
        write = lines.append

        def flush(self) -> None:
            pass

    RuntimeLog(json_format=True, stream=Sink()).warning("careful")  # type: ignore[arg-type]
    RuntimeLog(json_format=False, stream=Sink()).warning("careful")  # type: ignore[arg-type]
    assert json.loads(lines[0])["level"] == "WARN" and lines[1].startswith("[WARNING]\t")


def test_handlers_the_code_added_are_kept_and_a_basic_config_default_is_replaced(root_logger, capsys):
    import io
    import sys

    shipped = io.StringIO()
    root_logger.handlers[:] = [logging.StreamHandler(shipped)]
    logging.basicConfig()  # finds a handler: adds none
    root_logger.addHandler(logging.StreamHandler(sys.stderr))  # what basicConfig adds when there is none
    root_logger.handlers[-1].setFormatter(logging.Formatter(logging.BASIC_FORMAT))
    out = emitted(capsys, False, lambda logger: logger.warning("to both"))
    assert shipped.getvalue() == "to both\n" and out.endswith("\tto both\n")
    assert len(root_logger.handlers) == 2 and "WARNING:app.orders" not in capsys.readouterr().err
