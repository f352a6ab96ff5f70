"""Async handlers on the exact wire: the same chunks, commit and error rules as synchronous ones,
on one event loop per process that outlives every invocation."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import textwrap

from runtime import streaming, wire
from tests.wire.scripted import ACCEPTED, ScriptedPeer, next_answer, run_loop, status_answer

PROJECT_ROOT = __file__.rsplit("/tests/", 1)[0]


def _serve(handler, invocations: int = 1) -> ScriptedPeer:
    answers = []
    for index in range(invocations):
        answers += [next_answer(f"r{index}", {"index": index}), ACCEPTED]
    peer = ScriptedPeer(answers)
    run_loop(peer, handler, invocations)
    return peer


def test_async_buffered_handler_result_is_posted_as_json():
    async def handler(event, context):
        await asyncio.sleep(0)
        return {"async": True, "id": context.aws_request_id}

    peer = _serve(handler)
    assert peer.requests[1].request_line.endswith("/r0/response HTTP/1.1")
    assert json.loads(peer.requests[1].body) == {"async": True, "id": "r0"}


def test_async_buffered_failure_goes_to_error_with_a_trace_that_starts_in_user_code():
    async def handler(event, context):
        await asyncio.sleep(0)
        raise ValueError("async failure")

    peer = _serve(handler)
    document = json.loads(peer.requests[1].body)
    assert document["errorType"] == "ValueError" and document["errorMessage"] == "async failure"
    assert __file__ in document["stackTrace"][0] and "in handler" in document["stackTrace"][0]
    assert not any("asyncio" in line or "/runtime/" in line for line in document["stackTrace"])


def test_streaming_coroutine_awaits_between_writes_and_each_write_is_one_chunk():
    @streaming
    async def handler(event, response, context):
        response.start(201, {"content-type": "text/plain"})
        await response.write("a")
        await asyncio.sleep(0)
        response.write(b"b")  # the plain call works in async code too
        await asyncio.sleep(0)
        await response.write("c")

    body = _serve(handler).requests[1].body
    prelude = b'{"statusCode":201,"headers":{"content-type":"text/plain"},"cookies":[]}'
    assert body == wire.encode_chunk(prelude) + wire.encode_chunk(wire.PRELUDE_DELIMITER) + (
        b"1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n"
    )


def test_async_generator_handler_streams_each_item():
    @streaming
    async def handler(event, response, context):
        response.start(200, {"content-type": "text/plain"})
        for index in range(3):
            await asyncio.sleep(0)
            yield f"item {index}\n"

    request = _serve(handler).requests[1]
    assert request.decoded_body.endswith(b"item 0\nitem 1\nitem 2\n")
    assert request.body.endswith(b"7\r\nitem 2\n\r\n0\r\n\r\n")


def test_coroutine_may_return_an_async_iterable_or_bytes():
    class Countdown:
        def __init__(self) -> None:
            self.left = 2

        def __aiter__(self):
            return self

        async def __anext__(self) -> bytes:
            if not self.left:
                raise StopAsyncIteration
            self.left -= 1
            return str(self.left).encode()

    @streaming(http_integration=False)
    async def iterable(event, response, context):
        return Countdown()

    @streaming(http_integration=False)
    async def returns_bytes(event, response, context):
        return b"whole"

    assert _serve(iterable).requests[1].body == b"1\r\n1\r\n1\r\n0\r\n0\r\n\r\n"
    assert _serve(returns_bytes).requests[1].body == b"5\r\nwhole\r\n0\r\n\r\n"


def test_async_failure_after_a_write_ends_with_trailers_and_before_goes_to_error():
    @streaming
    async def after(event, response, context):
        await response.write("partial")
        await asyncio.sleep(0)
        raise KeyError("late")

    @streaming
    async def before(event, response, context):
        await asyncio.sleep(0)
        raise KeyError("early")

    late = _serve(after).requests
    assert len(late) == 2 and late[1].decoded_body.endswith(b"partial")
    document = json.loads(base64.b64decode(late[1].trailers["lambda-runtime-function-error-body"]))
    assert document["errorType"] == "KeyError" and "in after" in document["stackTrace"][-1]
    early = _serve(before).requests
    assert early[1].request_line.endswith("/r0/error HTTP/1.1")


def test_an_async_generator_is_closed_when_the_runtime_api_stops_the_stream():
    closed = []

    @streaming(http_integration=False)
    async def handler(event, response, context):
        try:
            for _ in range(1000):
                await asyncio.sleep(0)
                yield b"z" * 1024
        finally:
            closed.append(True)

    too_large = status_answer(413, {"errorType": "RequestEntityTooLarge", "errorMessage": "cut"}, close=True)
    lines = run_loop(ScriptedPeer([next_answer("r1", {}), b""], early={1: (4096, too_large)}), handler, 1)
    assert closed == [True]
    assert any("413 RequestEntityTooLarge" in line for line in lines)


def test_one_event_loop_serves_every_invocation_and_loop_bound_objects_keep_working():
    loops, state = [], {}

    async def handler(event, context):
        loops.append(asyncio.get_running_loop())
        if "queue" not in state:
            state["queue"] = asyncio.Queue()  # binds to the loop on first use
            state["lock"] = asyncio.Lock()
        async with state["lock"]:
            await state["queue"].put(event["index"])
            return await state["queue"].get()

    peer = _serve(handler, invocations=10)
    assert len(set(map(id, loops))) == 1 and not loops[0].is_closed()
    assert [json.loads(peer.requests[i].body) for i in range(1, 20, 2)] == list(range(10))


def test_tasks_left_pending_are_neither_awaited_nor_cancelled_and_resume_in_the_next_invocation():
    state: dict = {}

    async def background(release: asyncio.Event) -> str:
        await release.wait()
        return "finished in a later invocation"

    async def handler(event, context):
        if event["index"] == 0:
            state["release"] = asyncio.Event()
            state["task"] = asyncio.get_running_loop().create_task(background(state["release"]))
            return "returned while the task waits"
        task = state["task"]
        pending = not task.done()  # the first response did not wait for it, nor cancel it
        state["release"].set()
        return {"pending_at_start": pending, "result": await task}

    peer = _serve(handler, invocations=2)
    assert json.loads(peer.requests[1].body) == "returned while the task waits"
    assert json.loads(peer.requests[3].body) == {"pending_at_start": True, "result": "finished in a later invocation"}


def test_a_failing_background_task_is_logged_in_the_runtimes_format():
    script = textwrap.dedent(
        f"""
        import asyncio, gc, sys
        sys.path.insert(0, {PROJECT_ROOT!r})
        from tests.wire.scripted import ACCEPTED, ScriptedPeer, next_answer, run_loop
        from tests.aio.test_async_handlers import _failing_background_handler
        run_loop(ScriptedPeer([next_answer("r1", {{}}), ACCEPTED]), _failing_background_handler, 1)
        gc.collect()
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert "[ERROR]" in result.stderr and "background failure" in result.stderr


async def _failing_background_handler(event, context):
    async def fails() -> None:
        raise RuntimeError("background failure")

    asyncio.get_running_loop().create_task(fails())
    await asyncio.sleep(0)
    return "ok"


def test_a_synchronous_handler_never_imports_asyncio():
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {PROJECT_ROOT!r})
        from runtime import streaming
        from tests.wire.scripted import ACCEPTED, ScriptedPeer, next_answer, run_loop

        @streaming
        def handler(event, response, context):
            response.write("sync")
            return (chunk for chunk in ["a", "b"])

        run_loop(ScriptedPeer([next_answer("r1", {{}}), ACCEPTED]), handler, 1)
        print("asyncio" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"
