"""A local Lambda whose Function URLs really stream: Runtime API, Function URLs, Invoke API.

`python -m runtime.emulator --help` for the command line; `make_server(EmulatorConfig(...))` to
embed it; `runtime.emulator.pytest_plugin` for a pytest fixture.

Modules, from the outside in (imports point only downwards):
- `cli`: the command line; `sam_template` (+ `cfn_yaml`, `intrinsics`): functions from a template;
- `emulator`: assembles the servers, pools and the embedded S3;
- `front_door` (Function URLs) and `invoke_api` (the Invoke API): HTTP requests to invocations;
- `renderers`: how a response reaches the client that asked (stream, collected, event stream);
- `environment`: runtime processes and their pool; `runtime_api`: each environment's Runtime API;
- `invocation`: one invocation's state machine; `transitions`: the table helper;
- `http_server`: strict HTTP/1.1 connections; `function_url`, `eventstream`: pure translations.
"""

from runtime.emulator.config import EmulatorConfig, FunctionConfig
from runtime.emulator.emulator import Emulator, make_server

__all__ = ["Emulator", "EmulatorConfig", "FunctionConfig", "make_server"]
