"""A server-sent events reader as a pure function of lines (the API's `/events` stream).

https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation :
fields `event`, `data` (joined with newlines), `id`; a blank line dispatches; lines starting with
`:` are comments (heartbeats).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ServerEvent:
    event: str
    data: str
    id: str | None

    def json(self) -> Any:
        return json.loads(self.data) if self.data else None


def parse_events(lines: Iterable[str]) -> Iterator[ServerEvent]:
    event, data, last_id = "message", [], None
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield ServerEvent(event, "\n".join(data), last_id)
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id" and "\x00" not in value:
            last_id = value
