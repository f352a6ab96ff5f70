"""Common mistakes in naming or writing a handler are caught at init, with the way to fix them."""

from __future__ import annotations

import sys

import pytest

from runtime import streaming
from runtime.loader import HandlerLoadError, load_handler

APPS = """
class AsgiApp:  # the shape of FastAPI, Starlette or Django's ASGIHandler
    async def __call__(self, scope, receive, send):
        pass


class WsgiApp:  # the shape of Flask or Django's WSGIHandler
    def __call__(self, environ, start_response):
        return []


class Subclassed(AsgiApp):
    pass


asgi_app = AsgiApp()
wsgi_app = WsgiApp()
subclassed = Subclassed()


class Callable:
    def __call__(self, event, context):
        return "fine"


handler_object = Callable()
"""


@pytest.fixture
def module(tmp_path, monkeypatch):
    (tmp_path / "mistakes_app.py").write_text(APPS)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield "mistakes_app"
    sys.modules.pop("mistakes_app", None)


@pytest.mark.parametrize(
    ("name", "wrapper"), [("asgi_app", "asgi_handler"), ("subclassed", "asgi_handler"), ("wsgi_app", "wsgi_handler")]
)
def test_an_application_object_named_as_the_handler_says_how_to_wrap_it(module, tmp_path, name, wrapper):
    with pytest.raises(HandlerLoadError) as refused:
        load_handler(f"{module}.{name}", str(tmp_path))
    payload = refused.value.payload
    assert payload.error_type == "Runtime.HandlerNotFound"
    assert f"`handler = runtime.{wrapper}({name})`" in payload.message and f"'{module}.handler'" in payload.message


def test_a_callable_object_with_the_handler_signature_is_a_handler(module, tmp_path):
    assert load_handler(f"{module}.handler_object", str(tmp_path))({}, None) == "fine"


def test_a_real_fastapi_app_is_recognised(tmp_path, monkeypatch):
    pytest.importorskip("fastapi")
    (tmp_path / "fastapi_mistake.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        with pytest.raises(HandlerLoadError, match="is an ASGI application"):
            load_handler("fastapi_mistake.app", str(tmp_path))
    finally:
        sys.modules.pop("fastapi_mistake", None)


def test_streaming_on_a_function_without_the_response_argument_fails_at_import():
    with pytest.raises(TypeError, match=r"must take \(event, response, context\); it takes 2"):

        @streaming
        def handler(event, context):
            return None

    @streaming
    def variadic(*args):  # takes anything: left to the call
        return None

    @streaming(http_integration=False)
    def three(event, response, context):
        return None
