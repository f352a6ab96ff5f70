"""Bandwidth shaping like Lambda's streamed responses: a burst uncapped, then a steady rate.

A token bucket with a clock and a sleep function injected, so it is tested without waiting.
Used only with `--aws-throttle`, since it makes local work slow on purpose. Lambda streams the
first 6 MB of a response uncapped, then at a capped rate:
https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Throttle:
    def __init__(
        self,
        burst_bytes: int,
        rate_bytes_per_second: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate_bytes_per_second
        self.burst_left = burst_bytes
        self._clock = clock
        self._sleep = sleep
        self._next_free = 0.0

    def wait(self, size: int) -> None:
        """Block until `size` more bytes may be sent."""
        from_burst = min(size, self.burst_left)
        self.burst_left -= from_burst
        paced = size - from_burst
        if not paced:
            return
        now = self._clock()
        start = max(now, self._next_free)
        self._next_free = start + paced / self.rate
        if self._next_free > now:
            self._sleep(self._next_free - now)
