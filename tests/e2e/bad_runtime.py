"""A runtime that breaks the Runtime API's rules on purpose, recording each status it gets.

Run as the emulator's bootstrap (through bad_runtime_bootstrap); writes `name status` lines to
the file named by BAD_RUNTIME_REPORT, answering the first invocation properly and the second with an oversized body.
"""

import http.client
import json
import os
import sys

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
report = open(os.environ["BAD_RUNTIME_REPORT"], "a")  # noqa: SIM115


def call(name, method, path, body=b"", headers=None):
    connection = http.client.HTTPConnection(host, int(port))
    connection.request(method, "/2018-06-01" + path, body=body, headers=headers or {})
    answer = connection.getresponse()
    data = answer.read()
    report.write(f"{name} {answer.status}\n")
    report.flush()
    connection.close()
    return answer, data


answer, _ = call("next", "GET", "/runtime/invocation/next")
request_id = answer.getheader("Lambda-Runtime-Aws-Request-Id")
call("unknown-mode", "POST", f"/runtime/invocation/{request_id}/response", b"x",
     {"Lambda-Runtime-Function-Response-Mode": "bogus"})  # fmt: skip
call("not-current", "POST", "/runtime/invocation/not-the-id/response", b"{}")
call("ok", "POST", f"/runtime/invocation/{request_id}/response", json.dumps("served").encode())
call("twice", "POST", f"/runtime/invocation/{request_id}/response", b"{}")
call("error-after-response", "POST", f"/runtime/invocation/{request_id}/error", b"{}")
answer, _ = call("next-again", "GET", "/runtime/invocation/next")
request_id = answer.getheader("Lambda-Runtime-Aws-Request-Id")
call("too-large", "POST", f"/runtime/invocation/{request_id}/response", b"x" * (7 * 1024 * 1024))
sys.exit(0)
