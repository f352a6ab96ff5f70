import pytest


@pytest.fixture(scope="session", autouse=True)
def close_the_event_loop_at_the_end():
    """Tests here share the process's event loop, as invocations do; shut it down like the runtime."""
    yield
    from runtime import aio

    aio.shutdown()
