"""`python -m runtime`: what `bootstrap` runs (it calls runtime.main directly, sparing runpy)."""

import sys

from runtime.main import main

sys.exit(main())
