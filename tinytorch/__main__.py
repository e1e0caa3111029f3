"""`python -m tinytorch ...`: the same command line as the `tinytorch` console script (see tinytorch/cli.py)."""

import sys

from .cli import main

sys.exit(main())
