"""`python -m tests.parity [--report PATH] [--filter TEXT] [-v]`: run the probe and print the table."""

from .run import main

raise SystemExit(main())
