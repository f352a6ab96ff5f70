"""Real ASGI apps (FastAPI, Starlette, sse-starlette, and a raw one for protocol edges) served by
`asgi_handler` in the end-to-end tests.

Streaming routes run in lockstep with the test: item i is sent, then the app waits until the test
has read it (the test creates `<dir>/ack-i`). A buffer anywhere between the app and the client
would stall the stream, so arrival order is proven without timing.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import StreamingResponse
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from runtime import asgi_handler


async def acknowledged(directory: str, index: int) -> bool:
    for _ in range(4000):  # ~20 s, then give up so a broken stream fails the test instead of hanging
        if os.path.exists(os.path.join(directory, f"ack-{index}")):
            return True
        await asyncio.sleep(0.005)
    return False


@asynccontextmanager
async def lifespan(app: FastAPI):
    yield {"started_in": os.getpid(), "queue": asyncio.Queue()}


api = FastAPI(lifespan=lifespan)


@api.get("/json")
async def json_route(response: Response) -> dict:
    response.set_cookie("session", "s1")
    response.set_cookie("theme", "dark", path="/")
    return {"hello": "world"}


@api.get("/stream")
async def stream_route(directory: str = Query(alias="dir"), n: int = 5) -> StreamingResponse:
    async def lines():
        for index in range(n):
            yield f"chunk-{index}\n"
            if not await acknowledged(directory, index):
                yield "gave up waiting\n"
                return

    response = StreamingResponse(lines(), status_code=201, media_type="text/plain", headers={"x-app": "fastapi"})
    response.set_cookie("streamed", "yes")
    return response


@api.get("/events")
async def events_route(directory: str = Query(alias="dir"), n: int = 3) -> EventSourceResponse:
    async def events():
        for index in range(n):
            yield {"event": "tick", "id": str(index), "data": f"event {index}"}
            if not await acknowledged(directory, index):
                yield {"event": "gave-up", "data": "gave up waiting"}
                return

    return EventSourceResponse(events())


@api.post("/echo")
async def echo_route(request: Request) -> Response:
    return Response(await request.body(), media_type="application/octet-stream")


@api.get("/items/{item}")
async def item_route(item: str, request: Request) -> dict:
    return {
        "item": item,
        "q": request.query_params.getlist("q"),
        "cookies": dict(request.cookies),
        "url": str(request.url),
        "client": request.client.host if request.client else None,
    }


@api.get("/state")
async def state_route(request: Request) -> dict:
    queue = request.state.queue  # created on the loop at startup, used here: same loop
    await queue.put(1)
    return {"started_in": request.state.started_in, "served_in": os.getpid(), "queued": await queue.get()}


@api.get("/boom")
async def boom_route() -> dict:
    raise RuntimeError("the route failed")


fastapi_handler = asgi_handler(api)


def starlette_stream(request):
    from starlette.responses import StreamingResponse as StarletteStreaming

    def numbers():  # a sync iterator: Starlette runs it in a thread pool, one chunk per item
        yield from (f"{number}\n" for number in range(3))

    return StarletteStreaming(numbers(), media_type="text/plain")


starlette_app = Starlette(
    routes=[
        Route("/", lambda request: PlainTextResponse(f"plain {request.url.path}")),
        Route("/numbers", starlette_stream),
    ]
)
starlette_handler = asgi_handler(starlette_app)


async def raw_app(scope, receive, send):
    """Protocol edges, chosen by path."""
    if scope["type"] != "http":
        raise RuntimeError("no lifespan here")  # auto mode carries on without it
    path = scope["path"]
    request = await receive()
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": [(b"x-empty", b"yes")]})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/before-start":
        raise ValueError("failed before the response started")
    elif path == "/mid-stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"partial\n", "more_body": True})
        raise ValueError("failed mid-stream")
    elif path == "/cookies":
        cookies = [(b"set-cookie", f"c{index}={index}; Path=/".encode()) for index in range(3)]
        headers = [(b"content-type", b"text/plain"), *cookies]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"three cookies"})
    elif path == "/binary":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"image/png")]})
        await send({"type": "http.response.body", "body": request["body"][::-1]})
    else:
        body = f"{scope['method']} {path} {scope['raw_path'].decode()} {scope['query_string'].decode()}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})


raw_handler = asgi_handler(raw_app)


async def marker_app(scope, receive, send):
    """Writes `startup <pid>` and `shutdown <pid>` lines to $LIFESPAN_MARKER."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            phase = message["type"].removeprefix("lifespan.")
            with open(os.environ["LIFESPAN_MARKER"], "a") as marker:
                marker.write(f"{phase} {os.getpid()}\n")
            await send({"type": f"{message['type']}.complete"})
            if phase == "shutdown":
                return
    await send({"type": "http.response.start", "status": 200})
    await send({"type": "http.response.body", "body": str(os.getpid()).encode()})


marker_handler = asgi_handler(marker_app)
