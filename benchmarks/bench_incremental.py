"""An incremental day of linking against a full run: generate a city, serve it, ingest and
validate it through the hub's real path, link it in full, apply a day's changes to the
registry's inputs, link again (incremental), then rebuild with the same model and check
that the rebuild finds nothing to change — the incremental run published what a full
run with its model would.

    uv run python benchmarks/bench_incremental.py --elders 200000
    uv run python benchmarks/bench_incremental.py --home /path/to/a/prepared/home --changes 0.01

The day's changes are written straight into the accepted tables, as the quality gate
would promote them, each in a new batch: of every person-describing resource a share
``--changes`` gets a new version (civil affairs' elders with another phone), a tenth of
that share is withdrawn, and that share of new service orders arrives (copies of
existing orders under new ids, a day later). Each link runs in a fresh child process,
so the peak resident memory printed is that run's; precision and recall are against the
generator's truth (the new orders are left out of it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _link(home: Path, mode: str) -> dict:
    from hub.db import get_engine
    from hub.settings import HubSettings
    from linking.evaluate import current_links, load_truth, pairwise
    from linking.run import link

    s = HubSettings(home=home)
    t = time.monotonic()
    result = link(s, progress=lambda m: print("   ", m, flush=True), mode=mode)
    seconds = time.monotonic() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    truth, elders = load_truth(home / "truth")
    with get_engine(s).connect() as conn:
        links = {k: v for k, v in current_links(conn).items() if not k[2].endswith("-day")}
        score = pairwise(links, truth, elders)
    pub = result.published
    return {"mode": result.mode, "seconds": seconds, "peak_mb": peak, "records": result.records,
            "precision": score.precision, "recall": score.recall, "f1": score.f1,
            "reused": result.stats.get("reused", 0), "reviews": pub.reviews,
            "goldens_built": pub.goldens_built, "persons": pub.persons,
            "versions_written": pub.versions_written, "links_written": pub.links_written}


def a_day(home: Path, share: float, seed: int = 1) -> dict[str, int]:
    """Apply one day's changes to the accepted tables (see the module); returns counts."""
    from sqlalchemy import bindparam, func, insert, select, update

    from hub.db import get_engine
    from hub.settings import HubSettings
    from linking.records import PERSON_RESOURCES
    from schemas.staging import accepted_table

    rng = random.Random(seed)
    engine = get_engine(HubSettings(home=home))
    counts = {"new versions": 0, "withdrawn": 0, "new orders": 0}
    with engine.begin() as conn:
        batch = max(conn.execute(select(func.max(accepted_table(p, r).c.batch_id))).scalar() or 0
                    for p, r in PERSON_RESOURCES) + 1
        for platform, resource_ in PERSON_RESOURCES:
            t = accepted_table(platform, resource_)
            when = dict(conn.execute(select(t.c.record_id, t.c.updated_at).where(t.c.deleted.is_(False))
                                     .order_by(t.c.record_id)).all())
            ids = list(when)
            picked = rng.sample(ids, min(len(ids), round(len(ids) * share * 1.1)))
            n_gone = len(picked) // 11
            gone, changed = picked[:n_gone], picked[n_gone:]
            values = {"batch_id": batch, "updated_at": bindparam("t")}
            if (platform, resource_) == ("civil_affairs", "elders"):
                values["phone"] = bindparam("phone")
            stmt = update(t).where(t.c.record_id == bindparam("rid")).values(**values)
            conn.execute(stmt, [{"rid": i, "t": when[i] + timedelta(days=1), "phone": f"139{rng.randrange(10**8):08d}"}
                                for i in changed])
            conn.execute(update(t).where(t.c.record_id == bindparam("rid")).values(batch_id=batch, deleted=True),
                         [{"rid": i} for i in gone])
            counts["new versions"] += len(changed)
            counts["withdrawn"] += len(gone)
            if (platform, resource_) == ("property_mgmt", "service-orders"):
                cols = [c for c in t.c if c.name not in ("record_id", "batch_id", "updated_at", "service_date")]
                src = rng.sample(ids, min(len(ids), round(len(ids) * share)))
                rows = conn.execute(select(t.c.record_id, t.c.updated_at, t.c.service_date, *cols)
                                    .where(t.c.record_id.in_(src))).all()
                conn.execute(insert(t), [
                    {"record_id": f"{r[0]}-day", "batch_id": batch, "updated_at": r[1] + timedelta(days=1),
                     "service_date": r[2] + timedelta(days=1) if r[2] else None,
                     **{c.name: v for c, v in zip(cols, r[3:], strict=True)}} for r in rows])
                counts["new orders"] += len(rows)
    return counts


def _child(step: str, home: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", step, str(home)], check=True, cwd=REPO,
                         stdout=subprocess.PIPE, text=True).stdout
    print("".join(line + "\n" for line in out.splitlines() if not line.startswith("RESULT")), end="", flush=True)
    return json.loads(next(line for line in out.splitlines() if line.startswith("RESULT"))[7:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--elders", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--changes", type=float, default=0.01, help="share of records changed in the day (0.01)")
    ap.add_argument("--home", type=Path, help="a prepared hub home (its database is copied, not changed)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        step, home = args.child
        if step == "prepare":
            from bench_linking import _prepare

            elders, seed = os.environ["BENCH_CONFIG"].split(",")
            _prepare(int(elders), int(seed), 1.0, Path(home))
        else:
            print("RESULT " + json.dumps(_link(Path(home), step)), flush=True)
        return
    with tempfile.TemporaryDirectory(prefix="bench-inc-") as tmp:
        home = Path(tmp)
        if args.home:
            import sqlite3

            db = args.home / "hub.db"
            with sqlite3.connect(db) as c:
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copy(db, home / "hub.db")
            shutil.copytree(args.home / "truth", home / "truth")
            print(f"a copy of {db}", flush=True)
        else:
            print(f"{args.elders:,} elders, seed {args.seed}", flush=True)
            env = {**os.environ, "BENCH_CONFIG": f"{args.elders},{args.seed}"}
            subprocess.run([sys.executable, __file__, "--child", "prepare", str(home)], check=True, env=env,
                           cwd=REPO)
        print("full link:", flush=True)
        full = _child("full", home)
        t = time.monotonic()
        counts = a_day(home, args.changes)
        print(f"a day's changes ({time.monotonic() - t:.0f}s): "
              + ", ".join(f"{n:,} {what}" for what, n in counts.items()), flush=True)
        print("the next day's link:", flush=True)
        inc = _child("auto", home)
        print("rebuild with the same model:", flush=True)
        rebuilt = _child("rebuild", home)
    print()
    print(f"{'run':<12} {'records':>10} {'seconds':>8} {'peak MB':>8} {'reused':>8} {'goldens built':>14} "
          f"{'precision':>9} {'recall':>8} {'F1':>8}")
    for r in (full, inc, rebuilt):
        print(f"{r['mode']:<12} {r['records']:>10,} {r['seconds']:>8.1f} {r['peak_mb']:>8.0f} {r['reused']:>8,} "
              f"{r['goldens_built']:>14,} {r['precision']:>9.4f} {r['recall']:>8.4f} {r['f1']:>8.4f}")
    same = (rebuilt["versions_written"], rebuilt["links_written"], rebuilt["reviews"]) == (0, 0, inc["reviews"])
    print(f"incremental == rebuild with its model: {'yes' if same else 'NO'} "
          f"(the rebuild wrote {rebuilt['versions_written']:,} person versions, {rebuilt['links_written']:,} links; "
          f"review queue {inc['reviews']:,} → {rebuilt['reviews']:,})")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
