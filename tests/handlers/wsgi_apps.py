"""A real Flask app served by `wsgi_handler` in the end-to-end tests (lockstep streaming as in
asgi_apps: line i, then wait until the test has read it)."""

from __future__ import annotations

import os
import time

from flask import Flask, Response, request, stream_with_context

from runtime import wsgi_handler

app = Flask(__name__)


def acknowledged(directory: str, index: int) -> bool:
    deadline = time.monotonic() + 20
    while not os.path.exists(os.path.join(directory, f"ack-{index}")):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@app.get("/stream")
def stream():
    directory = request.args["dir"]
    count = int(request.args.get("n", "5"))

    @stream_with_context
    def lines():
        for index in range(count):
            yield f"line-{index} {request.path}\n"
            if not acknowledged(directory, index):
                yield "gave up waiting\n"
                return

    response = Response(lines(), status=200, mimetype="text/plain", headers={"x-app": "flask"})
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    return response


@app.post("/echo")
def echo():
    return Response(request.get_data()[::-1], mimetype="application/octet-stream")


@app.get("/info/<name>")
def info(name: str):
    return {
        "name": name,
        "q": request.args.getlist("q"),
        "cookies": dict(request.cookies),
        "url": request.url,
        "remote": request.remote_addr,
    }


@app.get("/fails-mid-stream")
def fails_mid_stream():
    def lines():
        yield "first\n"
        raise RuntimeError("generator failed")

    return Response(lines(), mimetype="text/plain")


@app.get("/boom")
def boom():
    raise RuntimeError("the view failed")


@app.get("/empty")
def empty():
    return "", 204


flask_handler = wsgi_handler(app)


def raw_wsgi(environ, start_response):
    """A plain WSGI callable that fails before start_response: the adapter answers 500."""
    raise ValueError("failed before start_response")


raw_wsgi_handler = wsgi_handler(raw_wsgi)
