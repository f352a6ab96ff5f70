pytest_plugins = ["runtime.emulator.pytest_plugin"]
