"""A runtime that speaks malformed HTTP to the Runtime API, then answers properly.

Run as the emulator's bootstrap (through hostile_runtime_bootstrap). Each malformed request goes
on a fresh connection; `name status` lines go to the file named by HOSTILE_RUNTIME_REPORT. The
invocation is then answered with the JSON string "served", so the client sees that nothing the
runtime did wrong before reached it or killed its environment.
"""

import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tests.emulator.rawhttp import read_response

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
report = open(os.environ["HOSTILE_RUNTIME_REPORT"], "a")  # noqa: SIM115


def send(name: str, data: bytes) -> int:
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(data)
        status = read_response(sock, bytearray()).status
    report.write(f"{name} {status}\n")
    report.flush()
    return status


with socket.create_connection((host, int(port)), timeout=60) as poll:
    poll.sendall(f"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    buffer = bytearray()
    answer = read_response(poll, buffer)
    request_id = answer.headers["lambda-runtime-aws-request-id"]
    path = f"/2018-06-01/runtime/invocation/{request_id}/response"
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
    send("superscript-length", (head + "Content-Length: \xb2\r\n\r\n").encode("latin-1") + b"x")
    send("negative-length", (head + "Content-Length: -5\r\n\r\n").encode())
    send("two-lengths", (head + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nxy").encode())
    send("length-and-chunked", (head + "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").encode())
    send("xchunked", (head + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n").encode())
    body = json.dumps("served").encode()
    poll.sendall((head + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
    report.write(f"served {read_response(poll, buffer).status}\n")
    report.flush()
    poll.sendall(f"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    read_response(poll, buffer)  # wait here until the emulator stops us
