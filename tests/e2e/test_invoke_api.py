"""The real boto3 Lambda client pointed at the emulator's Invoke API."""

from __future__ import annotations

import json

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
