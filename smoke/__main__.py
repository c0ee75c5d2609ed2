"""`python -m smoke`: see `smoke.cli`."""

import sys

from smoke.cli import main

sys.exit(main())
