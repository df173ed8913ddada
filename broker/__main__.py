"""Lets `python -m broker` behave exactly like the `pybroker` console script."""

from broker.cli.main import main

raise SystemExit(main())
