"""`python -m runtime.emulator`: see `runtime.emulator.cli`."""

import sys

from runtime.emulator.cli import main

sys.exit(main())
