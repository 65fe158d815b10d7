"""Validation time (quality suites, quarantine, gate, promotion) for 1 and 10 million
staged rows, on SQLite and PostgreSQL, and how well the quarantine matches the truth.

The staged rows come from a real ingest: the simulators serve a generated world of
``--base-elders`` elders, the hub ingests it, and the staging tables are then copied
onto themselves (record ids suffixed) until they hold the target number of rows — the
values, noise and proportions between resources stay those of the generated city. Each
target is validated from a fresh copy, so every row is pending, as on a first load.

    uv run python benchmarks/bench_quality.py --rows 1000000 --rows 10000000 --db sqlite --db postgresql
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
PG_URL = os.environ.get("HUB_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def base_world(elders: int, seed: int, url: str, home: Path):  # noqa: ANN201
    """Serve a generated world, ingest it into ``url``; returns the ground truth."""
    from hub.settings import HubSettings
    from landing.ingest import ingest_all
    from simulators.apps.base import Credentials
    from simulators.faults import FaultConfig
    from simulators.generator import GeneratorConfig, generate
    from simulators.runtime import connections_for
    from simulators.server import start_simulators
    from simulators.store import SimClock

    config = GeneratorConfig(elders=elders, seed=seed)
    store, truth = generate(config)
    with start_simulators(store, SimClock(config.now), FaultConfig.none(export_ready_after_s=0.05),
                          Credentials()) as sims:
        for platform, conn in connections_for(sims.urls, Credentials()).items():
            os.environ[f"AIRFLOW_CONN_{platform.upper()}"] = json.dumps(conn)
        settings = HubSettings(home=home, database_url=url, requests_per_second=None)
        result = ingest_all(settings=settings)
    return truth, result.received


def stage_rows(url: str) -> int:
    from sqlalchemy import func, select

    from hub.db import make_engine
    from quality.suites import SUITES
    from schemas.staging import staging_table

    engine = make_engine(url)
    with engine.connect() as conn:
        return sum(conn.execute(select(func.count()).select_from(staging_table(*k))).scalar_one() for k in SUITES)


def grow(url: str, target: int) -> int:
    """Copy every staging table onto itself (new record ids) until ``target`` rows."""
    from sqlalchemy import func, literal, select

    from hub.db import make_engine
    from quality.suites import SUITES
    from schemas.staging import staging_table

    engine = make_engine(url)
    n = stage_rows(url)
    copy = 0
    while n < target * 0.995:  # within half a percent
        copy += 1
        factor = min(2.0, target / n)
        with engine.begin() as conn:
            for key in SUITES:
                t = staging_table(*key)
                cols = [c.name for c in t.columns]
                src = select(*[(t.c.record_id + literal(f"~{copy}")).label("record_id") if c == "record_id"
                               else t.c[c] for c in cols])
                if factor < 2.0:  # the last round copies a share of each table
                    total = conn.execute(select(func.count()).select_from(t)).scalar_one()
                    src = src.limit(math.ceil(total * (factor - 1.0)))
                conn.execute(t.insert().from_select(cols, src))
        n = stage_rows(url)
        print(f"  staged {n:,} rows", flush=True)
    return n


def run_one(db: str, rows: int, template: Path, pg_template: str | None, truth) -> str:  # noqa: ANN001
    from sqlalchemy import text

    from hub.db import make_engine
    from hub.settings import HubSettings
    from quality.evaluate import Confusion, quarantine_confusion
    from quality.validate import validate

    home = Path(tempfile.mkdtemp(prefix="bench-quality-"))
    if db == "sqlite":
        with sqlite3.connect(template) as src, sqlite3.connect(home / "hub.db") as dst:
            src.backup(dst)  # consistent, write-ahead log included
        url = f"sqlite:///{home / 'hub.db'}"
    else:
        schema = f"bq_{uuid.uuid4().hex[:8]}"
        admin = make_engine(PG_URL)
        with admin.begin() as conn:  # a copy of the template schema, tables and data
            conn.execute(text(f"create schema {schema}"))
            for (name,) in conn.execute(text(
                    "select tablename from pg_tables where schemaname = :s"), {"s": pg_template}).all():
                conn.execute(text(f"create table {schema}.{name} (like {pg_template}.{name} including all)"))
                conn.execute(text(f"insert into {schema}.{name} select * from {pg_template}.{name}"))
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    staged = grow(url, rows)
    settings = HubSettings(home=home, database_url=url)
    t0 = time.perf_counter()
    result = validate(settings, progress=lambda m: print("   ", m, flush=True))
    wall = time.perf_counter() - t0
    day = touch_a_day(url)
    t1 = time.perf_counter()
    validate(settings, progress=lambda m: None)
    day_wall = time.perf_counter() - t1
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    line = (f"{db:10} staged {staged:>11,}  first load validated in {wall:6.1f}s ({staged / wall:,.0f} rows/s)  "
            f"[{result.status}]; a day of {day:,} changed rows then in {day_wall:5.1f}s; peak RSS {rss:,.0f} MB")
    if staged <= 3_000_000:  # the copies share their originals' truth (slow to compare in Python)
        total = Confusion()
        for c in quarantine_confusion(make_engine(url), _CopiesTruth(truth)).values():
            total.add(c)
        line += (f"  quarantine vs truth: held {total.held_unusable:,} unusable + {total.held_usable:,} usable, "
                 f"passed {total.passed_unusable:,} unusable (precision {total.precision:.4f}, "
                 f"recall {total.recall:.4f})")
    if db == "postgresql":
        with make_engine(PG_URL).begin() as conn:
            conn.execute(text(f"drop schema {schema} cascade"))
    shutil.rmtree(home, ignore_errors=True)
    return line


def touch_a_day(url: str, share: int = 100) -> int:
    """A day's changes: one staged row in ``share`` gets a new batch (as if a new version
    had landed), so the next validation judges those and scans the rest only for the
    table checks. Returns the rows touched."""
    from sqlalchemy import func, insert, select, update

    from hub.db import make_engine
    from quality.suites import SUITES
    from schemas.landing import IngestBatch, IngestRun
    from schemas.staging import staging_table

    engine = make_engine(url)
    touched = 0
    with engine.begin() as conn:
        run = conn.execute(insert(IngestRun).values(started_at=func.now(), status="success", trigger="bench")
                           .returning(IngestRun.id)).scalar_one()
        for platform, resource in SUITES:
            batch = conn.execute(insert(IngestBatch).values(
                run_id=run, platform=platform, resource=resource, started_at=func.now(), status="success",
                received=0, landed_new=0, landed_duplicate=0, rejected=0, tombstones=0, pages=0)
                .returning(IngestBatch.id)).scalar_one()
            t = staging_table(platform, resource)
            ids = select(t.c.record_id).order_by(t.c.record_id).limit(
                max(1, conn.execute(select(func.count()).select_from(t)).scalar_one() // share))
            touched += conn.execute(update(t).where(t.c.record_id.in_(ids)).values(batch_id=batch)).rowcount
    return touched


class _CopiesTruth:
    """The truth of a copied record is its original's."""

    def __init__(self, truth) -> None:  # noqa: ANN001
        self.truth = truth

    def record(self, platform: str, resource: str, record_id: str):  # noqa: ANN201
        return self.truth.record(platform, resource, record_id.split("~", 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, action="append", help="staged rows to validate (repeatable)")
    ap.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    ap.add_argument("--base-elders", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    targets = args.rows or [1_000_000, 10_000_000]
    dbs = args.db or ["sqlite", "postgresql"]
    from sqlalchemy import text

    from hub.db import make_engine, upgrade

    work = Path(tempfile.mkdtemp(prefix="bench-quality-base-"))
    print(f"ingesting a generated world of {args.base_elders:,} elders as the template…", flush=True)
    template = work / "hub.db"
    upgrade(make_engine(f"sqlite:///{template}"))
    truth, received = base_world(args.base_elders, args.seed, f"sqlite:///{template}", work / "home")
    pg_template = None
    if "postgresql" in dbs:
        pg_template = f"bqt_{uuid.uuid4().hex[:8]}"
        with make_engine(PG_URL).begin() as conn:
            conn.execute(text(f"create schema {pg_template}"))
        url = f"{PG_URL}?options=-csearch_path%3D{pg_template}"
        upgrade(make_engine(url))
        base_world(args.base_elders, args.seed, url, work / "home-pg")
    print(f"template: {received:,} records received, {stage_rows(f'sqlite:///{template}'):,} staged rows", flush=True)
    lines = []
    try:
        for db in dbs:
            for rows in targets:
                print(f"{db}: {rows:,} rows…", flush=True)
                lines.append(run_one(db, rows, template, pg_template, truth))
                print(lines[-1], flush=True)
    finally:
        if pg_template:
            with make_engine(PG_URL).begin() as conn:
                conn.execute(text(f"drop schema {pg_template} cascade"))
        shutil.rmtree(work, ignore_errors=True)
    print("\nsummary")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
