"""`python -m coord`: coord's own command line (see `coord.cli`)."""

import sys

from coord.cli import main

sys.exit(main())
