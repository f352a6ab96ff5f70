"""Routing as a pure function from (method, path) to a route and its path parameters.

Patterns like `/transfers/{id}/parts` compile once at import to anchored regular expressions
(as starlette's `compile_path` does). An unknown path is 404; a known path with another method is
405 with `Allow` listing what it accepts (as bottle's router does).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from handlers.errors import ApiError

PARAMETER = re.compile(r"{([a-z_]+)}")
PATH_SHOWN = 64  # a path is echoed in error messages, cut to this length


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    endpoint: Callable[..., Any]
    regex: re.Pattern[str]

    @classmethod
    def compile(cls, method: str, pattern: str, endpoint: Callable[..., Any]) -> Route:
        parts, position = [], 0
        for match in PARAMETER.finditer(pattern):
            parts.append(re.escape(pattern[position : match.start()]))
            parts.append(f"(?P<{match.group(1)}>[^/]+)")
            position = match.end()
        parts.append(re.escape(pattern[position:]))
        return cls(method.upper(), pattern, endpoint, re.compile("^" + "".join(parts) + "$"))


def match(routes: Sequence[Route], method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for `method` and `path`, with its parameters; ApiError 404 or 405 otherwise."""
    allowed: list[str] = []
    for route in routes:
        found = route.regex.fullmatch(path)
        if found is None:
            continue
        if route.method == method:
            return route, found.groupdict()
        allowed.append(route.method)
    shown = path if len(path) <= PATH_SHOWN else path[: PATH_SHOWN - 3] + "..."
    if allowed:
        allow = ", ".join(sorted({*allowed, "OPTIONS"}))
        raise ApiError(405, "method_not_allowed", f"{method[:16]} is not allowed on {shown}", {"allow": allow})
    raise ApiError(404, "route_not_found", f"no route for {shown}")
