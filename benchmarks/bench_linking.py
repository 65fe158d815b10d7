"""Linkage quality and cost: generate a city, serve it, ingest and validate it through the
hub's real path (HTTP → landing → staging → quality gate), then link and publish, and
print pairwise precision, recall and F1 against the generator's truth, with wall time and
peak memory of the linking run.

    uv run python benchmarks/bench_linking.py --elders 20000
    uv run python benchmarks/bench_linking.py --elders 20000 --noise-scale 2 --seed 7
    uv run python benchmarks/bench_linking.py --elders 2300000 --person-records-only --home /data/city

``--person-records-only`` generates the whole city but serves only the resources whose
records describe persons (what linking reads): a city of 2.3 million elders then fits the
simulators in ~8 GB instead of ~25 GB, and ingests in minutes instead of an hour; the
records linked are the same. ``--home DIR`` keeps the prepared (ingested, validated) home
in DIR — and reuses it when DIR already holds one — for ``bench_incremental.py --home``.

Each configuration runs in a fresh child process, so the peak resident memory printed is
that of one linking run (ingest and validation happen in an earlier child). Each of the
run's progress lines carries the seconds since it began, its resident memory then and the
peak since the line before (sampled every 50 ms): the memory of each phase.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _prepare(elders: int, seed: int, noise: float, home: Path, db_url: str | None = None,
             person_records_only: bool = False) -> None:
    """Generate a city, serve it, ingest and validate it into ``db_url`` (default: an
    SQLite file under ``home``); the truth goes to ``home/truth``. ``person_records_only``:
    serve only the resources linking reads (``linking.records.PERSON_RESOURCES``)."""
    from hub.settings import HubSettings
    from landing.ingest import ingest_all
    from linking.records import PERSON_RESOURCES
    from quality.validate import validate
    from simulators.apps.base import Credentials
    from simulators.faults import FaultConfig
    from simulators.generator import GeneratorConfig, NoiseConfig, generate
    from simulators.runtime import connections_for
    from simulators.server import start_simulators
    from simulators.store import SimClock

    t = time.monotonic()
    config = GeneratorConfig(elders=elders, seed=seed, noise=NoiseConfig().scaled(noise),
                             resources=frozenset(PERSON_RESOURCES) if person_records_only else None)
    say = (lambda m: print(f"    {m}", flush=True)) if elders >= 500_000 else None  # a city takes minutes
    store, truth = generate(config, progress=say)
    truth.write(home / "truth")
    print(f"  generated {elders:,} elders (seed {seed}, noise x{noise}) in {time.monotonic() - t:.0f}s", flush=True)
    with start_simulators(store, SimClock(config.now), FaultConfig.none(export_ready_after_s=0.05),
                          Credentials()) as sims:
        for platform, conn in connections_for(sims.urls, Credentials()).items():
            os.environ[f"AIRFLOW_CONN_{platform.upper()}"] = json.dumps(conn)
        s = HubSettings(home=home, database_url=db_url, requests_per_second=None)
        t = time.monotonic()
        run = ingest_all(settings=s)
        print(f"  ingested {run.received:,} records in {time.monotonic() - t:.0f}s [{run.status}]", flush=True)
    t = time.monotonic()
    q = validate(s, docs=False)
    print(f"  validated in {time.monotonic() - t:.0f}s [{q.status}]", flush=True)
    (home / PREPARED).write_text(f"{elders} elders, seed {seed}, noise x{noise}, "
                                 f"person records only: {person_records_only}\n")


#: Written into a home once it is prepared: ``--home`` reuses only a finished one.
PREPARED = "prepared.txt"


class _PhaseMemory:
    """The linking process's resident memory at each progress line, and its peak since
    the line before (read from ``/proc/self/status`` every 50 ms by a thread; a sample
    read while a line was printed counts for neither phase)."""

    def __init__(self) -> None:
        self.peak = 0
        self.phase = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._sample, daemon=True).start()

    @staticmethod
    def rss_mb() -> int:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS"))

    def _sample(self) -> None:
        while True:
            phase = self.phase
            rss = self.rss_mb()
            with self.lock:
                if phase == self.phase:
                    self.peak = max(self.peak, rss)
            time.sleep(0.05)

    def line(self) -> str:
        now = self.rss_mb()
        with self.lock:
            peak, self.peak = max(self.peak, now), now
            self.phase += 1
        return f"{now:,} MB, peak since the last line {peak:,} MB"


def _link(home: Path) -> dict:
    from hub.db import get_engine
    from hub.settings import HubSettings
    from linking.evaluate import current_links, load_truth, pairwise
    from linking.run import link

    s = HubSettings(home=home)
    t = time.monotonic()
    memory = _PhaseMemory()
    result = link(s, progress=lambda m: print(f"    [{time.monotonic() - t:6.1f}s {memory.line()}] {m}", flush=True),
                  mode="full")  # (also on a reused home)
    seconds = time.monotonic() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    truth, elders = load_truth(home / "truth")
    with get_engine(s).connect() as conn:
        score = pairwise(current_links(conn), truth, elders)
    return {"precision": score.precision, "recall": score.recall, "f1": score.f1, "records": score.records,
            "non_elder_linked": score.non_elder_linked, "seconds": seconds, "peak_mb": peak,
            "persons": result.published.persons if result.published else 0,
            "review": result.published.reviews if result.published else 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--elders", type=int, default=20_000)
    ap.add_argument("--seed", type=int, action="append", help="repeatable (default 42)")
    ap.add_argument("--noise-scale", type=float, action="append", help="repeatable (default 1)")
    ap.add_argument("--person-records-only", action="store_true",
                    help="serve only the resources linking reads (the same records; a city fits in memory)")
    ap.add_argument("--home", type=Path, help="keep the prepared home here, or reuse the one here (one seed and noise)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        step, home = args.child
        if step == "prepare":
            elders, seed, noise, only = os.environ["BENCH_CONFIG"].split(",")
            _prepare(int(elders), int(seed), float(noise), Path(home), person_records_only=only == "1")
        else:
            print("RESULT " + json.dumps(_link(Path(home))), flush=True)
        return
    configs = [(seed, noise) for seed in args.seed or [42] for noise in args.noise_scale or [1.0]]
    if args.home and len(configs) > 1:
        ap.error("--home keeps one city: give one --seed and one --noise-scale")
    rows = []
    for seed, noise in configs:
        print(f"{args.elders:,} elders, seed {seed}, noise x{noise}", flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-link-") as tmp:
            home = str(args.home or tmp)
            env = {**os.environ, "BENCH_CONFIG": f"{args.elders},{seed},{noise},{int(args.person_records_only)}"}
            if args.home and (args.home / PREPARED).exists():
                print(f"  reusing the city prepared in {home}: {(args.home / PREPARED).read_text().strip()}",
                      flush=True)
            else:
                Path(home).mkdir(parents=True, exist_ok=True)
                subprocess.run([sys.executable, __file__, "--child", "prepare", home], check=True, env=env,
                               cwd=REPO)
            out = subprocess.run([sys.executable, __file__, "--child", "link", home], check=True, env=env,
                                 cwd=REPO, stdout=subprocess.PIPE, text=True).stdout
            print("".join(line + "\n" for line in out.splitlines() if not line.startswith("RESULT")), end="")
            r = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT"))[7:])
            rows.append((seed, noise, r))
    print()
    print(f"{'elders':>9} {'seed':>5} {'noise':>6} {'records':>10} {'precision':>9} {'recall':>8} {'F1':>8} "
          f"{'non-elder':>9} {'review':>7} {'link s':>7} {'peak MB':>8}")
    for seed, noise, r in rows:
        print(f"{args.elders:>9,} {seed:>5} {noise:>6} {r['records']:>10,} {r['precision']:>9.4f} {r['recall']:>8.4f} "
              f"{r['f1']:>8.4f} {r['non_elder_linked']:>9} {r['review']:>7} {r['seconds']:>7.1f} {r['peak_mb']:>8.0f}")


if __name__ == "__main__":
    main()
