"""The hub's linker beside Splink 5 (DuckDB) on the same records: pairwise precision,
recall and F1 against the generator's truth, wall time and peak memory, side by side.

Both read the records the registry links — the person-describing resources that passed
the quality gate, normalised at landing — of a city generated, served, ingested and
validated through the hub's real path. Each system runs in a fresh process, so the peak
resident memory printed is its own; it is read as soon as the system has its answer,
before the generator's truth is loaded for scoring. Splink's input table is built from
the records in a process of its own and handed over as a Parquet file, so Splink's peak
does not include the hub's records either.

Splink runs a standard configuration for people data: records of all sources in one
table (``dedupe_only``: one platform can hold the same person twice); comparisons on
the ID number (Levenshtein 1 and 2, for typos and transpositions), the masked number's
first six and last four, the name (Jaro-Winkler), the birth date, gender, district and
phone; blocking on the ID number, name and birth year, phone, the masked parts, and
birth date and gender; u by random sampling, m by EM; clusters at match probability
0.95. Like the hub, it then keeps only clusters holding a public-security or
civil-affairs record (the registry holds the persons those know; a cluster without one
is somebody who is no elder).

    uv run --extra splink python benchmarks/bench_splink.py --elders 20000
    uv run --extra splink python benchmarks/bench_splink.py --home /path/to/a/prepared/home
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

ANCHORS = {"public_security/residents", "civil_affairs/elders"}


def _records(home: Path) -> list:
    from hub.db import get_engine
    from hub.settings import HubSettings
    from linking.records import load_records

    with get_engine(HubSettings(home=home)).connect() as conn:
        return load_records(conn)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _score(predicted: dict, home: Path) -> dict:
    from linking.evaluate import load_truth, pairwise

    truth, elders = load_truth(home / "truth")
    s = pairwise(predicted, truth, elders)
    return {"precision": s.precision, "recall": s.recall, "f1": s.f1, "records": s.records,
            "non_elder_linked": s.non_elder_linked}


def run_hub(home: Path) -> dict:
    from hub.db import get_engine
    from hub.settings import HubSettings
    from linking.evaluate import current_links
    from linking.run import link

    s = HubSettings(home=home)
    t = time.monotonic()
    link(s, progress=lambda m: None)
    seconds = time.monotonic() - t
    peak = _peak_mb()
    with get_engine(s).connect() as conn:
        predicted = current_links(conn)
    return {"seconds": seconds, "peak_mb": peak, **_score(predicted, home)}


def run_hub_resolve(home: Path) -> dict:
    """The hub's resolution alone, timed like Splink's run: from records already read to
    every record's person (no model stored, no golden records, no release written)."""
    from hub.db import get_engine
    from hub.settings import HubSettings
    from linking.resolve import resolve
    from linking.run import collector_paused, platform_as_of

    recs = _records(home)
    with get_engine(HubSettings(home=home)).connect() as conn:
        as_of = platform_as_of(conn)
    with collector_paused():
        t = time.monotonic()
        res = resolve(recs, as_of)
        seconds = time.monotonic() - t
    peak = _peak_mb()
    predicted = {}
    for r in recs:
        pid = res.person_of[r.idx]
        predicted[r.key] = None if pid is None else str(pid)
    return {"seconds": seconds, "peak_mb": peak, **_score(predicted, home)}


def splink_input(home: Path) -> None:
    """Splink's input table, from the records the registry links, as a Parquet file."""
    import pandas as pd

    rows = []
    for r in _records(home):
        number = r.id18 or r.id_clean
        rows.append({
            "unique_id": f"{r.platform}/{r.resource}/{r.record_id}",
            "source": f"{r.platform}/{r.resource}",
            "id_card_no": number,
            "id_prefix": number[:6] if number and len(number) == 18 else r.id_prefix,
            "id_suffix": number[14:] if number and len(number) == 18 else r.id_suffix,
            "name": r.name,
            "birth_date": r.birth.isoformat() if r.birth else None,
            "birth_year": r.year(),
            "gender": r.gender,
            "district": r.district,
            "phone": r.phone,
        })
    pd.DataFrame(rows).to_parquet(home / "splink-input.parquet")


def run_splink(home: Path) -> dict:
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    t = time.monotonic()
    df = pd.read_parquet(home / "splink-input.parquet")
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.LevenshteinAtThresholds("id_card_no", [1, 2]),
            cl.ExactMatch("id_prefix"),
            cl.ExactMatch("id_suffix"),
            cl.JaroWinklerAtThresholds("name", [0.9, 0.7]),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("gender"),
            cl.ExactMatch("district"),
            cl.ExactMatch("phone"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("id_card_no"),
            block_on("name", "birth_year"),
            block_on("phone"),
            block_on("id_prefix", "id_suffix"),
            block_on("birth_date", "gender"),
        ],
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(df), settings, log_level="WARNING")
    linker.training.estimate_probability_two_random_records_match([block_on("id_card_no")], recall=0.9)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("id_card_no"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name", "birth_year"))
    pairs = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pairs, 0.95).as_pandas_dataframe()
    seconds = time.monotonic() - t
    peak = _peak_mb()
    by_cluster: dict[str, list[str]] = {}
    for uid, cid in zip(clusters["unique_id"], clusters["cluster_id"], strict=True):
        by_cluster.setdefault(str(cid), []).append(uid)
    predicted = {}
    for cid, members in by_cluster.items():
        keep = any(m.rsplit("/", 1)[0] in ANCHORS for m in members)
        for m in members:
            platform, res, rid = m.split("/", 2)
            predicted[(platform, res, rid)] = cid if keep else None
    return {"seconds": seconds, "peak_mb": peak, **_score(predicted, home)}


def _copy_home(src: Path, dst: Path) -> None:
    """A prepared home's database (checkpointed first) and truth, copied into ``dst``."""
    import shutil
    import sqlite3

    with sqlite3.connect(src / "hub.db") as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(src / "hub.db", dst / "hub.db")
    shutil.copytree(src / "truth", dst / "truth")
    print(f"a copy of {src / 'hub.db'}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--elders", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--noise-scale", type=float, default=1.0)
    ap.add_argument("--home", type=Path, help="a prepared hub home (validated, with its truth; copied, not changed)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        which, home = args.child
        if which == "prepare":
            from bench_linking import _prepare

            _prepare(args.elders, args.seed, args.noise_scale, Path(home))
            return
        if which == "splink-input":
            splink_input(Path(home))
            return
        out = {"hub": run_hub, "hub-resolve": run_hub_resolve, "splink": run_splink}[which](Path(home))
        print("RESULT " + json.dumps(out), flush=True)
        return
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-splink-") as home:
        base = [sys.executable, __file__, "--elders", str(args.elders), "--seed", str(args.seed),
                "--noise-scale", str(args.noise_scale), "--child"]
        if args.home:
            _copy_home(args.home, Path(home))
        else:
            print(f"{args.elders:,} elders, seed {args.seed}, noise x{args.noise_scale}", flush=True)
            subprocess.run([*base, "prepare", home], check=True, cwd=REPO)
        subprocess.run([*base, "splink-input", home], check=True, cwd=REPO,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
        for which in ("hub", "hub-resolve", "splink"):
            out = subprocess.run([*base, which, home], check=True, cwd=REPO, stdout=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": str(REPO)}).stdout
            rows[which] = json.loads(next(x for x in out.splitlines() if x.startswith("RESULT"))[7:])
            print(f"  {which}: done in {rows[which]['seconds']:.1f}s", flush=True)
    print("\nhub: `hub link` end to end (reading the records, resolving, publishing the release);"
          "\nhub-resolve and splink: from records read to clusters")
    print(f"\n{'system':12} {'records':>9} {'precision':>9} {'recall':>8} {'F1':>8} {'non-elder':>9} "
          f"{'seconds':>8} {'peak MB':>8}")
    for which, r in rows.items():
        print(f"{which:12} {r['records']:>9,} {r['precision']:>9.4f} {r['recall']:>8.4f} {r['f1']:>8.4f} "
              f"{r['non_elder_linked']:>9} {r['seconds']:>8.1f} {r['peak_mb']:>8.0f}")


if __name__ == "__main__":
    main()
