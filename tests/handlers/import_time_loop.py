"""An async handler whose module binds an object to the current loop at import time, as some
libraries still do with `asyncio.get_event_loop()`: the runtime must adopt that loop."""

from __future__ import annotations

import asyncio
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    BOUND_AT_IMPORT = asyncio.get_event_loop().create_future()


async def handler(event, context):
    """Await the still-pending future: a task on another loop raises 'attached to a different loop'."""
    if not BOUND_AT_IMPORT.done():
        asyncio.get_running_loop().call_soon(BOUND_AT_IMPORT.set_result, "resolved on the adopted loop")
    return await BOUND_AT_IMPORT
