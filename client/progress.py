"""Progress bars on standard error (tqdm: bytes, rate and ETA), safe to update from several threads."""

from __future__ import annotations

import sys
import threading
from typing import Any

from tqdm import tqdm


class Progress:
    """A byte counter shown as a bar; `show=None` shows it only when standard error is a terminal."""

    def __init__(self, total: int, description: str, show: bool | None = None, initial: int = 0) -> None:
        self.lock = threading.Lock()
        self.bar: Any = tqdm(
            total=total,
            initial=initial,
            desc=description,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=sys.stderr,
            disable=None if show is None else not show,
            dynamic_ncols=True,
            mininterval=0.2,
        )

    def advance(self, count: int) -> None:
        """Add `count` bytes (negative when a retried request gives back what it had counted)."""
        if count:
            with self.lock:
                self.bar.update(count)

    def describe(self, text: str) -> None:
        with self.lock:
            self.bar.set_description_str(text)

    def close(self) -> None:
        with self.lock:
            self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
