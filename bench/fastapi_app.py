"""The small FastAPI app both sides of `bench.asgi` serve: a JSON route and a streaming route."""

from __future__ import annotations

import asyncio
import time

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

STREAM_CHUNKS = 5
STREAM_DELAY = 0.05  # seconds between chunks: the app's own pacing, as an LLM or a feed would

app = FastAPI()


@app.get("/json")
async def json_route() -> dict:
    return {"message": "hello", "items": list(range(10))}


@app.get("/stream")
async def stream_route() -> StreamingResponse:
    async def chunks():
        yield f"{time.perf_counter_ns()}\n"  # when the app sent its first chunk (CLOCK_MONOTONIC)
        for index in range(1, STREAM_CHUNKS):
            await asyncio.sleep(STREAM_DELAY)
            yield f"chunk {index}\n"

    return StreamingResponse(chunks(), media_type="text/plain")
