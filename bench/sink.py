"""A separate client process, like curl: GET a URL path over a raw socket, count the bytes until
the end of the chunked body (or until the server closes), print `bytes seconds first_byte_seconds`.
No HTTP library, so the client costs almost nothing and the benchmark measures the server side.

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
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}\r\n".encode())
        buffer = bytearray(4 * 1024 * 1024)
        received, tail, first_byte = 0, b"", None
        while True:
            count = sock.recv_into(buffer)
            if not count:
                break
            if first_byte is None:
                first_byte = time.perf_counter() - start
            received += count
            tail = (tail + bytes(buffer[max(0, count - 8) : count]))[-8:]
            if tail.endswith(TERMINATOR):
                break
        print(received, time.perf_counter() - start, first_byte or 0.0)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:])
