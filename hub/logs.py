"""Logging set-up for the command line: one line per event, libraries kept quiet.

Records, ID numbers, names and phones are never logged: messages carry counts, record
ids and reasons only.
"""

from __future__ import annotations

import logging
import sys


def setup(verbose: bool = False) -> None:
    level = logging.DEBUG if verbose else logging.INFO
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("urllib3", "great_expectations", "alembic", "uvicorn.access", "httpx", "faker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
