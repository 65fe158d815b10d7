"""How fast can one landing process write, and what does that bound? The serialised part
of landing, measured on its own.

On SQLite every landing process waits for the one write lock; what it does while holding
it (the two keyed inserts per record — the version into ``landing_record``, the latest
version into its staging table — and the commit) cannot run in parallel, whatever the
number of cores. So ``1 / (locked time per record)`` is a ceiling on end-to-end ingest
throughput, reached only if everything else (HTTP, parsing, normalising, hashing) were
free.

The script generates a world with the simulators' generator (no HTTP), lands every
version of every resource through ``landing.loader.land_page`` in one process, chunk by
chunk as a landing worker does (``HUB_COMMIT_RECORDS`` records a transaction, the
collector paused, SQLite's checkpoint after each transaction, outside the lock), into a
fresh database, and times the section a landing process holds the write lock for, and
within it each table's insert. It prints per-record figures and the ceiling.

    uv run python benchmarks/bench_write_floor.py --elders 100000
    uv run python benchmarks/bench_write_floor.py --elders 100000 --db postgresql
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


class _TimedSection:
    """Stands in for the landing processes' write lock: times what ``land_page`` does
    while holding it (the transaction, its commit included)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._t = 0.0

    def __enter__(self) -> None:
        self._t = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.seconds += time.perf_counter() - self._t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--elders", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = ap.parse_args()

    import orjson
    from bench_ingest import drop_pg_schema, pg_schema_url

    from connectors import RESOURCES
    from connectors.paginators import Page
    from hub import logs
    from hub.collector import collector_paused
    from hub.db import checkpoint_passive, get_engine, manual_checkpoints
    from hub.settings import HubSettings
    from landing import bulk, loader
    from landing.ingest import _open_batch, start_run
    from simulators.generator import GeneratorConfig, generate

    logs.setup()
    specs = {(s.platform, s.resource): s for ss in RESOURCES.values() for s in ss}
    print(f"generating {args.elders:,} elders (seed {args.seed})…", flush=True)
    store, _ = generate(GeneratorConfig(elders=args.elders, seed=args.seed))

    with tempfile.TemporaryDirectory(prefix="hub-floor-") as home:
        schema = None
        if args.db == "postgresql":
            url, schema = pg_schema_url()
        else:
            url = f"sqlite:///{home}/hub.db"
        settings = HubSettings(home=Path(home), database_url=url)
        engine = get_engine(settings)
        manual_checkpoints(engine)
        try:
            run_id = start_run(engine, "bench")
            section = _TimedSection()
            per_table: dict[str, float] = defaultdict(float)
            write = bulk.Writer.write_prepared

            def timed(self: bulk.Writer, conn, prepared):  # noqa: ANN001
                t = time.perf_counter()
                try:
                    return write(self, conn, prepared)
                finally:
                    per_table["landing_record" if self.table == "landing_record" else "staging"] += \
                        time.perf_counter() - t

            bulk.Writer.write_prepared = timed  # type: ignore[method-assign]
            total = landed = 0
            whole = checkpointing = 0.0
            chunk = settings.commit_records
            # as a landing worker does: the generated world set aside, the cyclic
            # collector paused, and run after each landing
            with collector_paused(freeze=True):
                for (platform, resource), rlog in sorted(store.logs.items()):
                    spec = specs.get((platform, resource))
                    if spec is None or not len(rlog):
                        continue
                    batch_id = _open_batch(engine, run_id, spec, None)
                    for k in range(0, len(rlog), chunk):
                        records = [orjson.loads(b) for b in rlog.bodies[k:k + chunk]]
                        t = time.perf_counter()
                        counts = loader.land_page(engine, spec, batch_id, Page(records), section)
                        whole += time.perf_counter() - t
                        total += counts.received
                        landed += counts.landed_new
                        t = time.perf_counter()
                        checkpoint_passive(engine)  # outside the lock, as a landing worker does
                        checkpointing += time.perf_counter() - t
                        gc.collect()
                    print(f"  {platform}/{resource}: {len(rlog):,} records", flush=True)
            bulk.Writer.write_prepared = write  # type: ignore[method-assign]
        finally:
            engine.dispose()
            if schema:
                drop_pg_schema(schema)

    us = 1e6 / total
    locked = section.seconds * us
    print(f"\n{args.db}: {total:,} records landed in one process ({landed:,} new versions)")
    print(f"  land_page, all of it         {whole * us:6.1f} µs a record")
    where = "holding the write lock" if args.db == "sqlite" else "in the transaction    "
    print(f"  {where}       {locked:6.1f} µs a record  (inserts and commit)")
    print(f"    insert into landing_record {per_table['landing_record'] * us:6.1f} µs a record")
    print(f"    upsert into staging        {per_table['staging'] * us:6.1f} µs a record")
    outside = "outside the lock       " if args.db == "sqlite" else "outside the transaction"
    print(f"  {outside}      {(whole - section.seconds) * us:6.1f} µs a record "
          "(keys, hashing, normalising, binding)")
    if args.db == "sqlite":
        print(f"  checkpoints after each transaction {checkpointing * us:4.1f} µs a record (outside the lock)")
        print(f"  ceiling set by the lock: {1e6 / locked:,.0f} records/s end to end, with every other cost free")


if __name__ == "__main__":
    main()
