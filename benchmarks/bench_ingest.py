"""Ingest throughput end to end (HTTP → landing + staging), and peak memory.

Starts the simulators in their own process (like a real remote platform), then for each
database runs one full ingest in a fresh child process and prints records/second, wall
time and the child's peak RSS. With ``--rate-limit`` the simulators enforce the
contract's 20 requests/second per client and the hub paces itself to it; the script then
also prints the bound those limits set (per platform: requests needed / 20, platforms in
parallel) and how close the run came.

    uv run python benchmarks/bench_ingest.py --elders 100000 --db sqlite --db postgresql
    uv run python benchmarks/bench_ingest.py --elders 100000 --rate-limit
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("HUB_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def child(db_url: str, home: str, rps: str) -> None:
    """Run one ingest in this process and print its figures as JSON."""
    os.environ.update({"HUB_DATABASE_URL": db_url, "HUB_HOME": home, "HUB_REQUESTS_PER_SECOND": rps})
    sys.path.insert(0, str(REPO))
    from hub import logs
    from landing.ingest import ingest_all

    logs.setup()
    t0 = time.perf_counter()
    result = ingest_all(trigger="bench", progress=lambda m: print(m, file=sys.stderr, flush=True))
    wall = time.perf_counter() - t0
    print(json.dumps({"status": result.status, "wall": wall, "received": result.received,
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "batches": [{"platform": b.platform, "resource": b.resource, "received": b.received,
                                   "status": b.status, "error": b.error} for b in result.batches]}))


def _proc_cpu(pid: int) -> float:
    """CPU seconds a running process has used so far (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(root: int) -> tuple[float, dict[int, float]]:
    """Resident memory (MB) of ``root`` and all its descendants (the worker processes
    too), and each one's CPU seconds so far."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            status = (d / "status").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(d.name)] = int(fields[1])
        cpu[int(d.name)] = (int(fields[11]) + int(fields[12])) / tick
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[int(d.name)] = int(line.split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p and c not in tree]
        tree.update(kids)
        frontier.extend(kids)
    return sum(rss.get(p, 0) for p in tree) / 1024, {p: cpu[p] for p in tree if p in cpu}


class PeakSampler(threading.Thread):
    """Samples the process tree twice a second: peak memory, and CPU time per process
    (the last reading of each: a sample misses at most the last half second)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()
        self.cpu: dict[int, float] = {}

    def run(self) -> None:
        while not self.stop.wait(0.5):
            rss, cpu = _tree(self.pid)
            self.peak = max(self.peak, rss)
            self.cpu.update(cpu)


def start_simulators(elders: int, seed: int, rate_limit: bool) -> tuple[subprocess.Popen, dict, float]:
    ready = Path(tempfile.mkdtemp(prefix="bench-sim-")) / "ready.json"
    cmd = [sys.executable, "-m", "hub.cli", "simulate", "--elders", str(elders), "--seed", str(seed),
           "--base-port", "0", "--ready-file", str(ready)]
    if not rate_limit:
        cmd.append("--no-rate-limit")
    t0 = time.perf_counter()
    log = ready.with_name("simulators.log")
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, stderr=log.open("wb"))
    while not ready.exists():
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").splitlines()[-15:]
            sys.exit("simulators failed to start:\n" + "\n".join(tail))
        time.sleep(0.5)
    return proc, json.loads(ready.read_text())["connections"], time.perf_counter() - t0


def pg_schema_url() -> tuple[str, str]:
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    eng = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with eng.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    return f"{PG_URL}?options=-csearch_path%3D{schema}", schema


def drop_pg_schema(schema: str) -> None:
    from sqlalchemy import create_engine, text

    eng = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with eng.begin() as conn:
        conn.execute(text(f"drop schema {schema} cascade"))


def rate_bound(batches: list[dict], page_limit: int = 1000, page_size: int = 500, rps: float = 20) -> float:
    """Records/second the contract's rate limit allows at best for these counts."""
    per_platform: dict[str, float] = {}
    total = 0
    for b in batches:
        n = b["received"]
        total += n
        if b["platform"] == "public_security":
            reqs = 4  # export request, a status poll or two, the file
        elif b["platform"] == "property_mgmt":
            reqs = max(1, math.ceil(n / page_size))
        else:
            reqs = max(1, math.ceil(n / page_limit)) + 1  # + token
        per_platform[b["platform"]] = per_platform.get(b["platform"], 0) + reqs
    slowest = max(per_platform.values()) / rps
    return total / slowest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--elders", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    ap.add_argument("--rate-limit", action="store_true", help="contract rate limits on (20 req/s)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    dbs = args.db or ["sqlite", "postgresql"]
    print(f"generating and serving {args.elders:,} elders (seed {args.seed}, rate limits "
          f"{'on' if args.rate_limit else 'lifted'})…", flush=True)
    sim, conns, gen_s = start_simulators(args.elders, args.seed, args.rate_limit)
    print(f"simulators ready in {gen_s:.0f}s", flush=True)
    env = dict(os.environ)
    for conn_id, value in conns.items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(value)
    rows = []
    try:
        for db in dbs:
            home = tempfile.mkdtemp(prefix="bench-hub-")
            schema = None
            if db == "sqlite":
                url = f"sqlite:///{home}/hub.db"
            else:
                url, schema = pg_schema_url()
            rps = "20" if args.rate_limit else "0"
            sim_cpu0 = _proc_cpu(sim.pid)
            proc = subprocess.Popen([sys.executable, __file__, "--child", url, home, rps], env=env, cwd=REPO,
                                    stdout=subprocess.PIPE, text=True)
            sampler = PeakSampler(proc.pid)
            sampler.start()
            stdout, _ = proc.communicate()
            sampler.stop.set()
            sim_cpu = _proc_cpu(sim.pid) - sim_cpu0
            hub_cpu = sum(sampler.cpu.values())
            if schema:
                drop_pg_schema(schema)
            shutil.rmtree(home, ignore_errors=True)  # a 1,000,000-elder database is ~16 GB
            res = json.loads(stdout.strip().splitlines()[-1])
            line = (f"{db:10} elders {args.elders:>9,}  records {res['received']:>11,}  wall {res['wall']:7.1f}s  "
                    f"{res['received'] / res['wall']:>9,.0f} rec/s  peak RSS {sampler.peak:,.0f} MB (all hub processes)  "
                    f"[{res['status']}]  CPU: hub {hub_cpu:.0f}s ({1e6 * hub_cpu / res['received']:.0f} µs/record), "
                    f"simulators {sim_cpu:.0f}s")
            if args.rate_limit:
                bound = rate_bound(res["batches"])
                line += f"  bound {bound:,.0f} rec/s → {100 * res['received'] / res['wall'] / bound:.0f}% of it"
            rows.append(line)
            print(line, flush=True)
    finally:
        os.killpg(sim.pid, 15)
        sim.wait()
    print("\nsummary")
    for line in rows:
        print(line)


if __name__ == "__main__":
    main()
