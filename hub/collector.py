"""Python's cyclic garbage collector, paused where the hub holds many objects at once.

The collector runs whenever enough container objects have been allocated, and now and
then traverses every object that has lived long. A linking run holds millions of long-lived
records and profiles, and a landing process tens of thousands of records between reading
and landing them; none of them is in a reference cycle (reference counting frees them),
yet traversing them took about a third of a 20,000-elder linking run and about a tenth
of a landing process's CPU (README, "Benchmarks").
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused(*, freeze: bool = False) -> Iterator[None]:
    """Pause the cyclic collector for the block, and restore it as it was.

    ``freeze``: also set aside every object alive now (modules, the database layer, …),
    so that an explicit ``gc.collect()`` inside the block — to free what cycles a
    long-running block does make — traverses only what the block created. Undone at the
    end (unless something was frozen already: then that stays as it was)."""
    was = gc.isenabled()
    froze = freeze and gc.get_freeze_count() == 0
    gc.disable()
    if froze:
        gc.freeze()
    try:
        yield
    finally:
        if froze:
            gc.unfreeze()
        if was:
            gc.enable()
