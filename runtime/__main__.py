"""`python -m runtime`: what `bootstrap` runs."""

import sys

from runtime.main import main

sys.exit(main())
