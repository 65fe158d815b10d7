"""Logging set-up for the command line: one line per event, libraries kept quiet.

Records, ID numbers, names and phones are never logged; see ``hub.masking`` for the
masked forms used where a message must point at a person.
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
