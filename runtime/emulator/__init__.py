"""A local Lambda runtime emulator whose Function URL really streams.

`python -m runtime.emulator --help` for the command line; `make_server(EmulatorConfig(...))` to
embed it; `runtime.emulator.pytest_plugin` for a pytest fixture.
"""

from runtime.emulator.config import EmulatorConfig
from runtime.emulator.server import FrontDoorServer, make_server

__all__ = ["EmulatorConfig", "FrontDoorServer", "make_server"]
