"""A runtime that relays, byte for byte, the prelude its event asks for (query `prelude`).

Run as the emulator's bootstrap (through prelude_runtime_bootstrap). It lets a test put on the
wire what no runtime of ours would send: header injection, non-Latin-1 values, bad statuses.
"""

import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from runtime import wire
from tests.emulator.rawhttp import read_response

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
with socket.create_connection((host, int(port))) as sock:
    buffer = bytearray()
    while True:
        sock.sendall(f"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        answer = read_response(sock, buffer)
        request_id = answer.headers["lambda-runtime-aws-request-id"]
        prelude = json.loads(answer.body)["queryStringParameters"]["prelude"].encode("utf-8")
        head = (
            f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\nHost: {host}\r\n"
            f"Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
            f"Content-Type: {wire.HTTP_INTEGRATION_CONTENT_TYPE}\r\n\r\n"
        ).encode()
        body = wire.encode_chunk(prelude) + wire.encode_chunk(wire.PRELUDE_DELIMITER) + wire.encode_chunk(b"body")
        sock.sendall(head + body + wire.encode_last_chunk())
        if read_response(sock, buffer).closed:
            sock.close()
            sock = socket.create_connection((host, int(port)))
            buffer = bytearray()
