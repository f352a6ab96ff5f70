"""The router is a pure function: tested on plain tuples."""

import pytest

from handlers.errors import ApiError
from handlers.router import Route, match


def endpoint(*args):
    return None


ROUTES = [
    Route.compile("GET", "/transfers/{id}", endpoint),
    Route.compile("DELETE", "/transfers/{id}", endpoint),
    Route.compile("POST", "/transfers/{id}/parts", endpoint),
    Route.compile("GET", "/transfers/{id}/parts", endpoint),
    Route.compile("POST", "/transfers", endpoint),
]


@pytest.mark.parametrize(
    ("method", "path", "pattern", "params"),
    [
        ("GET", "/transfers/abc", "/transfers/{id}", {"id": "abc"}),
        ("POST", "/transfers/abc/parts", "/transfers/{id}/parts", {"id": "abc"}),
        ("POST", "/transfers", "/transfers", {}),
    ],
)
def test_matches_with_parameters(method, path, pattern, params):
    route, found = match(ROUTES, method, path)
    assert route.pattern == pattern and found == params


@pytest.mark.parametrize("path", ["/", "/transfers/a/b", "/transfers/", "/transfersx", "/transfers/a/parts/1"])
def test_unknown_paths_are_404(path):
    with pytest.raises(ApiError) as caught:
        match(ROUTES, "GET", path)
    assert caught.value.status == 404 and caught.value.code == "route_not_found"


def test_known_path_other_method_is_405_with_allow():
    with pytest.raises(ApiError) as caught:
        match(ROUTES, "PATCH", "/transfers/abc")
    assert caught.value.status == 405
    assert caught.value.headers["allow"] == "DELETE, GET, OPTIONS"


def test_parameters_do_not_cross_slashes_and_patterns_are_literal():
    route = Route.compile("GET", "/a.b/{x}", endpoint)
    assert route.regex.match("/a.b/1") and not route.regex.match("/aXb/1")
    assert not route.regex.match("/a.b/1/2")


def test_messages_echo_at_most_64_characters_of_the_path():
    with pytest.raises(ApiError) as caught:
        match(ROUTES, "GET", "/" + "x" * 10_000)
    assert len(caught.value.message) < 100
    with pytest.raises(ApiError) as caught:
        match(ROUTES, "PATCH" * 1000, "/transfers/" + "y" * 10_000)
    assert caught.value.status == 405 and len(caught.value.message) < 120
