"""The real boto3 Lambda client pointed at the emulator's Invoke API."""

from __future__ import annotations

import json

import botocore.exceptions
import pytest
import requests

from tests.clients import local_lambda

SAMPLES = "tests.handlers.samples"


lambda_client = local_lambda


def test_invoke_request_response(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.echo")
    answer = lambda_client(emulator.url).invoke(FunctionName="local-function", Payload=b'{"k": "v"}')
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(answer["Payload"].read())["event"] == {"k": "v"}


def test_invoke_reports_function_error(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.raises")
    answer = lambda_client(emulator.url).invoke(FunctionName="local-function", Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"
    document = json.loads(answer["Payload"].read())
    assert document["errorType"] == "ValueError" and document["errorMessage"] == "buffered failure"


def test_invoke_reports_a_timeout_as_aws_names_it(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.sleeper", "--timeout", "1")
    payload = json.dumps({"queryStringParameters": {"seconds": "30"}})
    answer = lambda_client(emulator.url).invoke(FunctionName="local-function", Payload=payload)
    assert answer["FunctionError"] == "Unhandled"
    document = json.loads(answer["Payload"].read())
    request_id = answer["ResponseMetadata"]["RequestId"]
    assert document["errorType"] == "Sandbox.Timedout"
    assert document["errorMessage"] == f"RequestId: {request_id} Error: Task timed out after 1.00 seconds"


def test_a_payload_that_is_not_json_is_refused_before_any_invocation(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.echo")
    client = lambda_client(emulator.url)
    for call in (client.invoke, client.invoke_with_response_stream):
        for payload in (b"not json", b'{"open": ', b"\xff\xfe"):
            with pytest.raises(botocore.exceptions.ClientError) as refused:
                call(FunctionName="local-function", Payload=payload)
            assert refused.value.response["Error"]["Code"] == "InvalidRequestContentException"
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    answer = client.invoke(FunctionName="local-function", Payload=b"")
    assert answer["StatusCode"] == 200 and json.loads(answer["Payload"].read())["event"] == {}
    assert "RequestId" in answer["ResponseMetadata"]


def test_an_unknown_invocation_type_is_refused(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.echo")
    url = f"{emulator.invoke_url}2015-03-31/functions/local-function/invocations"
    answer = requests.post(url, data=b"{}", headers={"X-Amz-Invocation-Type": "Bogus"}, timeout=30)
    assert answer.status_code == 400 and answer.headers["x-amzn-ErrorType"] == "InvalidParameterValueException"
    assert "'Bogus' is not one of RequestResponse, Event, DryRun" in answer.json()["message"]


def test_invoke_with_response_stream_yields_chunks_incrementally(lambda_emulator, tmp_path):
    emulator = lambda_emulator(f"{SAMPLES}.lockstep")
    payload = json.dumps({"queryStringParameters": {"dir": str(tmp_path), "n": "3"}})
    answer = lambda_client(emulator.url).invoke_with_response_stream(FunctionName="f", Payload=payload)
    chunks, complete = [], None
    for event in answer["EventStream"]:
        if "PayloadChunk" in event:
            chunks.append(event["PayloadChunk"]["Payload"])
            if chunks[-1].startswith(b"chunk-"):
                (tmp_path / f"ack-{len(chunks) - 2}").touch()  # the first chunk is the prelude
        elif "InvokeComplete" in event:
            complete = event["InvokeComplete"]
    assert chunks[0].endswith(b"\x00" * 8) and b'"statusCode":201' in chunks[0]
    assert chunks[1:] == [b"chunk-0\n", b"chunk-1\n", b"chunk-2\n"]
    assert complete is not None and not complete.get("ErrorCode")


def test_invoke_with_response_stream_reports_mid_stream_error(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.fail_after_three")
    answer = lambda_client(emulator.url).invoke_with_response_stream(FunctionName="f", Payload=b"{}")
    events = list(answer["EventStream"])
    body = b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e)
    assert body.endswith(b"part-0\npart-1\npart-2\n")
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "RuntimeError"
    assert json.loads(complete["ErrorDetails"])["errorMessage"] == "failed mid-stream"


def test_client_context_reaches_the_handler_and_bad_ones_are_refused(lambda_emulator):
    import base64

    import pytest

    emulator = lambda_emulator(f"{SAMPLES}.echo")
    client = local_lambda(emulator.url)
    pretty = base64.b64encode(b'{\n  "custom": {"who": "caf\\u00e9"}\n}').decode()  # a newline: not a header value
    answer = client.invoke(FunctionName="f", Payload=b"{}", ClientContext=pretty)
    assert "FunctionError" not in answer and answer["StatusCode"] == 200
    for bad in (base64.b64encode(b"not json").decode(), "!!!", base64.b64encode(b"[1]").decode()):
        with pytest.raises(client.exceptions.InvalidRequestContentException):
            client.invoke(FunctionName="f", Payload=b"{}", ClientContext=bad)
    assert not [line for line in emulator.logs if "Traceback" in line or "exited" in line]


def test_an_unknown_function_with_a_large_payload_gets_its_404(lambda_emulator, tmp_path):
    import requests

    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Only:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: ., Handler: app.handler, Runtime: python3.13}\n"
    )
    emulator = lambda_emulator(None, template=tmp_path / "template.yaml")
    response = requests.post(
        f"{emulator.invoke_url}2015-03-31/functions/nope/invocations", data=b"x" * (3 * 1024 * 1024), timeout=60
    )
    assert response.status_code == 404 and response.json()["message"] == "Function not found: nope"
