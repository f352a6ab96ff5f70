"""`python -m bench [warm|throughput|first_byte|cold_start|memory|relay|asgi ...]` (all when none is named)."""

from __future__ import annotations

import importlib
import sys

ALL = ("warm", "throughput", "first_byte", "cold_start", "memory", "relay", "asgi")


def main(names: list[str]) -> int:
    for name in names or ALL:
        if name not in ALL:
            print(f"unknown benchmark {name!r}; choose from {', '.join(ALL)}", file=sys.stderr)
            return 2
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
