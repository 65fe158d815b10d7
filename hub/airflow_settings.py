"""Task settings of the DAGs, read from the environment when a DAG file is parsed (no
database, no network): retries of the tasks that read the platforms, and their backoff."""

from __future__ import annotations

import os
from datetime import timedelta

__all__ = ["READ_RETRIES", "READ_RETRY_DELAY", "READ_RETRY_MAX_DELAY"]

#: A platform read that failed (after the connector's own retries of single requests) is
#: tried again this many times, with exponential backoff from READ_RETRY_DELAY.
READ_RETRIES = int(os.environ.get("HUB_TASK_RETRIES", "3"))
READ_RETRY_DELAY = timedelta(seconds=float(os.environ.get("HUB_TASK_RETRY_DELAY_SECONDS", "60")))
READ_RETRY_MAX_DELAY = timedelta(minutes=15)
