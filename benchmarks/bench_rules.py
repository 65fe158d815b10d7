"""Subsidy rules: quality against planted breaches, and the time to judge a city-scale year.

1. Generate a city (``--elders``, default noise unless ``--noise-scale``), serve it, and
   take it through the hub's real path: ingest, validate, link, judge. Print precision and
   recall per rule against the generator's planted breaches.
2. Grow the registry and the rules' inputs to ``--scale`` elders by copying them (new
   person ids, ID numbers and record ids per copy, so every copy is a distinct set of
   people with the generated city's mix of programmes, meals, cards and noise), then judge
   again and print the time of every rule, of the context and of the merge, and the peak
   memory of the judging process.

    uv run python benchmarks/bench_rules.py --elders 20000 --scale 2300000 --db sqlite --db postgresql

At 20,000 elders the generated year holds ~160,000 meal records, so ``--scale 2300000``
judges ~18 million meals, ~9 million card deposits and ~7 million payments.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PG_URL = os.environ.get("HUB_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

#: The tables the rules read, and how a copy renames what identifies people and records.
_COPIES: dict[str, dict[str, str]] = {
    "person_version": {"person_id": "person_id || '_' || {k}", "merged_into": "merged_into || '_' || {k}",
                       "id_card_no": "{k3} || substr(id_card_no, 4)"},
    "person_link": {"record_id": "record_id || '-' || {k}", "person_id": "person_id || '_' || {k}"},
    "landing_record": {"record_id": "record_id || '-' || {k}"},
}
_ACC = ["civil_affairs__elders", "civil_affairs__benefits", "civil_affairs__card_deposits",
        "civil_affairs__meal_records", "civil_affairs__subsidy_payments", "civil_affairs__time_bank",
        "medical_insurance__ltc_enrolments", "medical_insurance__ltc_payments", "property_mgmt__service_orders",
        "public_security__residents"]
for _t in _ACC:
    _COPIES[f"acc_{_t}"] = {"record_id": "record_id || '-' || {k}", "id_card_no": "{k3} || substr(id_card_no, 4)"}
_COPIES["acc_civil_affairs__benefits"]["elder_record_id"] = "elder_record_id || '-' || {k}"
_WHERE = {"landing_record": "platform IN ('civil_affairs', 'medical_insurance') "
                            "AND resource IN ('elders', 'ltc-enrolments')"}


def _grow(db_url: str, copies: int) -> None:
    from sqlalchemy import inspect, text

    from hub.db import make_engine

    engine = make_engine(db_url)
    t0 = time.monotonic()
    with engine.begin() as conn:
        for table, renames in _COPIES.items():
            cols = [c["name"] for c in inspect(conn).get_columns(table) if c["name"] != "id"]
            base = f"bench_base_{table}"
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS {base}')
            where = f" WHERE {_WHERE[table]}" if table in _WHERE else ""
            conn.exec_driver_sql(f'CREATE TABLE {base} AS SELECT * FROM "{table}"{where}')
            for k in range(1, copies):
                exprs = [renames[c].format(k=k, k3=f"'{k:03d}'") if c in renames else f'"{c}"' for c in cols]
                conn.exec_driver_sql(f'INSERT INTO "{table}" ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
                                     f'SELECT {", ".join(exprs)} FROM {base}')
            conn.exec_driver_sql(f"DROP TABLE {base}")
            n = conn.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one()
            print(f"    {table}: {n:,} rows", flush=True)
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")
    print(f"  grown x{copies} in {time.monotonic() - t0:.0f}s", flush=True)


def _judge(home: Path, db_url: str, truth: bool) -> dict:
    from hub.db import get_engine
    from hub.settings import HubSettings
    from rules.evaluate import score_findings
    from rules.judge import judge

    s = HubSettings(home=home, database_url=db_url)
    t = time.monotonic()
    result = judge(s, progress=lambda m: print("   ", m, flush=True), reports=False)
    seconds = time.monotonic() - t
    out = {"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "rules": {k: {"found": v.found, "seconds": v.seconds} for k, v in result.rules.items()},
           "context": result.context}
    if truth:
        scores = score_findings(get_engine(s), home / "truth") or {}
        out["scores"] = {k: {"precision": v.precision, "recall": v.recall, "matched": v.matched,
                             "found": v.findings, "planted": v.breaches} for k, v in scores.items()}
    return out


def _child(step: str, home: str, db_url: str) -> None:
    home_p = Path(home)
    if step == "prepare":
        from bench_linking import _prepare

        from hub.settings import HubSettings
        from linking.run import link

        elders, seed, noise = os.environ["BENCH_CONFIG"].split(",")
        _prepare(int(elders), int(seed), float(noise), home_p, db_url)
        t = time.monotonic()
        link(HubSettings(home=home_p, database_url=db_url), progress=lambda m: None)
        print(f"  linked in {time.monotonic() - t:.0f}s", flush=True)
    elif step == "grow":
        _grow(db_url, int(os.environ["BENCH_COPIES"]))
    else:
        print("RESULT " + json.dumps(_judge(home_p, db_url, step == "quality")), flush=True)


def _run(step: str, home: str, db_url: str, env: dict) -> dict | None:
    out = subprocess.run([sys.executable, __file__, "--child", step, home, db_url], check=True, env=env,
                         cwd=REPO / "benchmarks", stdout=subprocess.PIPE, text=True).stdout
    print("".join(line + "\n" for line in out.splitlines() if not line.startswith("RESULT")), end="", flush=True)
    res = [line for line in out.splitlines() if line.startswith("RESULT")]
    return json.loads(res[0][7:]) if res else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--elders", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--noise-scale", type=float, default=1.0)
    ap.add_argument("--scale", type=int, default=0, help="elders to judge at (0: only the quality part)")
    ap.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    copies = max(1, round(args.scale / args.elders)) if args.scale else 1
    env = {**os.environ, "BENCH_CONFIG": f"{args.elders},{args.seed},{args.noise_scale}",
           "BENCH_COPIES": str(copies), "PYTHONPATH": str(REPO)}
    for db in args.db or ["sqlite"]:
        print(f"{db}: {args.elders:,} elders, seed {args.seed}, noise x{args.noise_scale}", flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-rules-") as home:
            schema = None
            if db == "sqlite":
                url = f"sqlite:///{home}/hub.db"
            else:
                from sqlalchemy import create_engine, text

                schema = f"bench_{uuid.uuid4().hex[:8]}"
                with create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)).begin() as c:
                    c.execute(text(f"create schema {schema}"))
                url = f"{PG_URL}?options=-csearch_path%3D{schema}"
            try:
                _run("prepare", home, url, env)
                q = _run("quality", home, url, env)
                print(f"\n  {'rule':32} {'planted':>8} {'found':>7} {'matched':>8} {'precision':>9} {'recall':>7}")
                for code, sc in q["scores"].items():
                    print(f"  {code:32} {sc['planted']:>8} {sc['found']:>7} {sc['matched']:>8} "
                          f"{sc['precision']:>9.4f} {sc['recall']:>7.4f}")
                if copies > 1:
                    _run("grow", home, url, env)
                    r = _run("scale", home, url, env)
                    print(f"\n  judged {r['context']['persons']:,} persons in {r['seconds']:.1f}s "
                          f"(peak RSS {r['peak_mb']:,.0f} MB)")
                    print(f"  {'rule':32} {'found':>10} {'seconds':>8}")
                    for code, v in r["rules"].items():
                        print(f"  {code:32} {v['found']:>10,} {v['seconds']:>8.1f}")
                    ctx = r["seconds"] - sum(v["seconds"] for v in r["rules"].values())
                    print(f"  {'context, merge, bookkeeping':32} {'':>10} {ctx:>8.1f}")
            finally:
                if schema:
                    from sqlalchemy import create_engine, text

                    with create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)).begin() as c:
                        c.execute(text(f"drop schema {schema} cascade"))


if __name__ == "__main__":
    main()
