"""Someone else's SAM project served by one command: functions, URLs, Invoke API, buckets, reload."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import requests

from tests.clients import local_lambda, local_s3

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Description: a small shop that is not ours
Parameters:
  Greeting:
    Type: String
    Default: hello
Globals:
  Function:
    Runtime: python3.13
    Timeout: 20
    Environment:
      Variables:
        ORDERS_BUCKET: !Ref Orders
Resources:
  Orders:
    Type: AWS::S3::Bucket
  Feed:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: feed.handler
      FunctionUrlConfig:
        AuthType: NONE
        InvokeMode: RESPONSE_STREAM
  Status:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: shop-status
      CodeUri: src/
      Handler: status.handler
      Environment:
        Variables:
          GREETING: !Ref Greeting
      FunctionUrlConfig:
        AuthType: NONE
"""

FEED = '''
import os
import time

from runtime import streaming


@streaming
def handler(event, response, context):
    """Write each line, then wait for the client to acknowledge it (a file) before the next."""
    query = event.get("queryStringParameters") or {}
    response.start(200, {"content-type": "text/plain", "x-version": VERSION})
    for index in range(3):
        response.write(f"{VERSION} {index} {os.environ['ORDERS_BUCKET']}\\n")
        ack = os.path.join(query.get("dir", "/nonexistent"), f"ack-{index}")
        deadline = time.monotonic() + 20
        while "dir" in query and not os.path.exists(ack) and time.monotonic() < deadline:
            time.sleep(0.005)

VERSION = "v1"
'''

STATUS = """
import os


def handler(event, context):
    body = f"{os.environ['GREETING']} from {context.function_name}, bucket {os.environ['ORDERS_BUCKET']}"
    return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": body}
"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "src" / "feed.py").write_text(textwrap.dedent(FEED))
    (tmp_path / "src" / "status.py").write_text(textwrap.dedent(STATUS))
    return tmp_path


def read_acknowledging(response: requests.Response, directory: Path) -> list[bytes]:
    lines = []
    for index, line in enumerate(response.iter_lines(chunk_size=1)):
        lines.append(line)
        (directory / f"ack-{index}").touch()
    return lines


def test_a_template_is_served_by_one_command(lambda_emulator, shop, tmp_path):
    emulator = lambda_emulator(cwd=shop)  # template.yaml in the current directory, as `sam local` does
    assert set(emulator.urls) == {"Feed", "Status"}
    acks = tmp_path / "acks"
    acks.mkdir()
    with requests.get(f"{emulator.urls['Feed']}?dir={acks}", stream=True, timeout=30) as response:
        assert response.status_code == 200 and response.headers["x-version"] == "v1"
        assert read_acknowledging(response, acks) == [f"v1 {i} local-orders".encode() for i in range(3)]
    status = requests.get(emulator.urls["Status"], timeout=30)
    assert (status.status_code, status.text) == (200, "hello from shop-status, bucket local-orders")

    client = local_lambda(emulator.invoke_url)
    answer = client.invoke(FunctionName="shop-status", Payload=b"{}")
    assert json.loads(answer["Payload"].read())["body"].startswith("hello from shop-status")
    answer = client.invoke(FunctionName="Status", Payload=b"{}")  # the logical id works too
    assert "FunctionError" not in answer
    events = list(client.invoke_with_response_stream(FunctionName="Feed", Payload=b"{}")["EventStream"])
    body = b"".join(event["PayloadChunk"]["Payload"] for event in events if "PayloadChunk" in event)
    assert body.endswith(b"v1 0 local-orders\nv1 1 local-orders\nv1 2 local-orders\n")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="nope", Payload=b"{}")

    s3 = local_s3(emulator.s3_endpoint)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["local-orders"]


def test_parameter_overrides_reach_the_function(lambda_emulator, shop):
    emulator = lambda_emulator(None, "--parameter-overrides", "Greeting=bonjour", template=shop / "template.yaml")
    assert requests.get(emulator.urls["Status"], timeout=30).text.startswith("bonjour from shop-status")


def test_an_edit_is_served_by_the_next_request_and_in_flight_work_finishes_on_the_old_code(
    lambda_emulator, shop, tmp_path
):
    emulator = lambda_emulator(None, "--watch", template=shop / "template.yaml")
    acks = tmp_path / "acks"
    acks.mkdir()
    feed = shop / "src" / "feed.py"
    with requests.get(f"{emulator.urls['Feed']}?dir={acks}", stream=True, timeout=30) as in_flight:
        lines = in_flight.iter_lines(chunk_size=1)
        assert next(lines) == b"v1 0 local-orders"
        feed.write_text(feed.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
        after_save = requests.get(emulator.urls["Feed"], timeout=30)
        assert after_save.headers["x-version"] == "v2" and after_save.text.startswith("v2 0")
        for index in range(3):
            (acks / f"ack-{index}").touch()
        assert list(lines) == [b"v1 1 local-orders", b"v1 2 local-orders"]
    emulator.wait_for_log("reloading Feed: feed.py changed")


def test_an_unsupported_reference_is_a_clear_error(lambda_emulator, shop):
    template = shop / "template.yaml"
    template.write_text(TEMPLATE.replace("GREETING: !Ref Greeting", "TABLE: !GetAtt Orders.Nope"))
    with pytest.raises(RuntimeError) as failure:
        lambda_emulator(None, template=template)
    assert "Status.Properties.Environment.Variables.TABLE" in str(failure.value)
    assert "Traceback" not in str(failure.value)
