"""A separate client process, like curl: GET a URL path over a raw socket, count the bytes until
the end of the chunked body (or until the server closes), print `bytes seconds first_byte_seconds`.
No HTTP library, so the client costs almost nothing and the benchmark measures the server side.
A status other than 200 or 206 is an error (exit 1), so a refused request never counts as fast.

    python -m bench.sink HOST PORT TARGET [HEADER: VALUE ...]
"""

from __future__ import annotations

import socket
import sys
import time

TERMINATOR = b"0\r\n\r\n"


def main(host: str, port: int, target: str, headers: list[str]) -> None:
    extra = "".join(f"{header}\r\n" for header in headers)
    with socket.create_connection((host, port)) as sock:
        start = time.perf_counter()
        request = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n{extra}\r\n"
        sock.sendall(request.encode())  # the port is in Host: presigned URLs sign it
        buffer = bytearray(4 * 1024 * 1024)
        received, tail, first_byte = 0, b"", None
        while True:
            count = sock.recv_into(buffer)
            if not count:
                break
            if first_byte is None:
                first_byte = time.perf_counter() - start
                status = bytes(buffer[9:12])
                if status not in (b"200", b"206"):
                    sys.exit(f"{host}:{port}{target[:60]} answered {bytes(buffer[: min(count, 300)])!r}")
            received += count
            tail = (tail + bytes(buffer[max(0, count - 8) : count]))[-8:]
            if tail.endswith(TERMINATOR):
                break
        print(received, time.perf_counter() - start, first_byte or 0.0)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:])
