"""Linkage against a second, independent implementation of the platform contract.

benchmarks/independent/ generates a population and serves the five platforms of
the contract in ../shared/PLATFORMS.md; it was written from that contract alone, without the project's
simulators, so its noise and distributions are not the ones the hub was tuned on. This
runs the hub against it for two days and scores the published registry against its truth:

    uv run python benchmarks/bench_independent.py [--elders 3400] [--seed 20261207]
                                                  [--now 2026-12-07T10:00:00+08:00] [--workdir DIR]

Day 1: generate (gen.py), serve (server.py, free loopback ports), ``hub run`` in a child
process with its own HUB_HOME and AIRFLOW_CONN_* connections, ``hub export persons`` with a
pii:read token, score (evaluate.py). Day 2: mutate.py appends a day's changes (two hours
later, on the same date), the server restarts on them, and the same again. A table of both
days closes the output. The hub's own progress and the evaluator's report (personal data
masked) pass through; nothing personal is printed in full.

The data's clock is --now, never the wall clock: the same seed, size and --now generate the
same files. The platforms report their clock from --now onwards, so the hub's as-of date
(who is 60+) is --now's date, as in the truth; the evaluator checks that.

Everything goes into a temporary directory, or into --workdir (kept: data, server logs, the
hub's home with its reports, exports, figures). Exits 1 only when a hub command (run, token,
export) fails or the platforms cannot be started; never because of the figures. Do not tune
the hub to these figures, nor this generator to the hub.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IND = Path(__file__).resolve().parent / "independent"
PLATFORMS = ("civil_affairs", "health", "medical_insurance", "public_security", "property_mgmt")
# the logins server.py accepts, and the path prefix of each platform's base URL
CONN = {"civil_affairs": ("/gw/mz", "indep-mz", "mz-secret-9101"), "health": ("", "indep-wj", "wj-secret-9102"),
        "medical_insurance": ("/hsa", "indep-yb", "yb-secret-9103"),
        "public_security": ("/ga", "indep-ga", "ga-secret-9104"), "property_mgmt": ("", None, "wy-apikey-9105")}
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
MARKER = ".bench_independent"
DAY2_AFTER = dt.timedelta(hours=2)


class BenchError(Exception):
    """The harness cannot go on (exit 1)."""


def _now_arg(raw: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(raw)
    if t.tzinfo is None:
        raise argparse.ArgumentTypeError(f"an offset is needed, e.g. 2026-12-07T10:00:00+08:00 (got {raw!r})")
    return t


def _workdir(arg: str | None, stack: contextlib.ExitStack) -> Path:
    if arg is None:
        return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-independent-")))
    work = Path(arg).resolve()
    if work.exists() and any(work.iterdir()):
        if not (work / MARKER).exists():
            raise BenchError(f"--workdir {work} is not empty and not an earlier run's: give a new or empty one")
        for name in ("data", "data2", "home"):
            shutil.rmtree(work / name, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    (work / MARKER).write_text("written by benchmarks/bench_independent.py; its contents are replaced by a rerun\n")
    return work


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(errors="replace").splitlines() if path.exists() else []
    return "\n".join("    " + line for line in text[-lines:])


def _step(args: list[str], log: Path, what: str) -> str:
    """Run one of the independent scripts; its output goes to ``log`` and is returned."""
    with log.open("w") as fh:
        rc = subprocess.run([sys.executable, *args], stdout=fh, stderr=subprocess.STDOUT, cwd=log.parent).returncode
    if rc:
        raise BenchError(f"{what} failed (exit {rc}):\n{_tail(log)}")
    return log.read_text()


class Platforms:
    """server.py in a child process, serving ``data`` with the clock starting at ``now``."""

    def __init__(self, data: Path, now: dt.datetime, ports: list[int], log: Path):
        self.ports, self.log = ports, log
        self._fh = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(IND / "server.py"), "--data", str(data), "--now", now.isoformat(),
             "--ports", ",".join(map(str, ports))], stdout=self._fh, stderr=subprocess.STDOUT, cwd=IND)
        try:
            self._wait_listening(timeout=300)
        except BaseException:
            self.stop()
            raise

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(self.ports)
        while waiting:
            if self.proc.poll() is not None:
                taken = [p for p in self.ports if _in_use(p)]
                hint = f" (ports {taken} are taken by another process)" if taken else ""
                raise BenchError(f"the platforms' server exited (code {self.proc.returncode}){hint}:\n"
                                 f"{_tail(self.log)}")
            if time.monotonic() > deadline:
                raise BenchError(f"the platforms' server did not listen on {waiting} within {timeout:.0f}s")
            waiting = [p for p in waiting if not _in_use(p)]
            if waiting:
                time.sleep(0.2)
        time.sleep(1)  # a port another process holds looks open too: the server would exit on it
        if self.proc.poll() is not None:
            raise BenchError(f"the platforms' server exited (code {self.proc.returncode}); one of the ports "
                             f"{self.ports} is probably taken by another process:\n{_tail(self.log)}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._fh.close()

    def connections(self) -> dict[str, str]:
        out = {}
        for platform, port in zip(PLATFORMS, self.ports, strict=True):
            prefix, login, password = CONN[platform]
            conn = {"conn_type": "http", "host": f"http://127.0.0.1:{port}{prefix}", "password": password}
            if login:
                conn["login"] = login
            out[f"AIRFLOW_CONN_{platform.upper()}"] = json.dumps(conn)
        return out


def _in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _hub_env(home: Path, platforms: Platforms) -> dict[str, str]:
    """The parent's environment without anything that would point the hub elsewhere
    (its database, a token, other platform connections), plus this run's home and platforms."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AIRFLOW_CONN_") and k not in ("HUB_DATABASE_URL", "HUB_TOKEN", "HUB_HOME")}
    env["HUB_HOME"] = str(home)
    env.update(platforms.connections())
    return env


def _hub_bin() -> str:
    local = Path(sys.executable).parent / "hub"
    found = str(local) if local.exists() else shutil.which("hub")
    if not found:
        raise BenchError("the `hub` command is not installed next to this Python (run under the project's .venv)")
    return found


def _day(n: int, *, hub: str, work: Path, data: Path, now: dt.datetime, ports: list[int], token: str | None,
         examples: int) -> tuple[dict, str | None, bool]:
    """Serve ``data``, run the hub once, export and score. Returns the figures, the token
    (created on day 1) and whether every hub command succeeded."""
    home = work / "home"
    figures: dict = {"day": n}
    print(f"\n=== day {n}: platforms' clock from {now.astimezone(SHANGHAI).isoformat()} ===", flush=True)
    platforms = Platforms(data, now, ports, work / f"server-day{n}.log")
    try:
        env = _hub_env(home, platforms)
        t = time.monotonic()
        rc = subprocess.run([hub, "run"], env=env).returncode
        figures["run_seconds"] = time.monotonic() - t
        figures["run_rc"] = rc
    finally:
        platforms.stop()
    if rc:
        print(f"\nhub run (day {n}) failed: exit {rc}", flush=True)
        return figures, token, False
    if token is None:
        out = subprocess.run([hub, "token", "create", "--name", "bench-independent", "--scope", "persons:read",
                              "--scope", "pii:read"], env=env, capture_output=True, text=True)
        lines = out.stdout.strip().splitlines()
        if out.returncode or not lines:
            print(f"\nhub token create failed (exit {out.returncode}):\n{out.stderr[-2000:]}", flush=True)
            return figures, None, False
        token = lines[-1].strip()
    persons = work / f"persons-day{n}.ndjson"
    out = subprocess.run([hub, "export", "persons", "--out", str(persons)], env={**env, "HUB_TOKEN": token},
                         capture_output=True, text=True)
    if out.returncode:
        print(f"\nhub export persons (day {n}) failed (exit {out.returncode}):\n{out.stderr[-2000:]}", flush=True)
        return figures, token, False
    metrics = work / f"figures-day{n}.json"
    print(f"\n--- day {n}: the registry against the truth (evaluate.py; personal data masked) ---", flush=True)
    report = _step([str(IND / "evaluate.py"), str(persons), "--truth", str(data / "truth.json"),
                    "--hub-db", str(home / "hub.db"), "--json", str(metrics), "--examples", str(examples)],
                   work / f"evaluate-day{n}.txt", f"evaluate.py (day {n})")
    print(report, end="", flush=True)
    figures.update(json.loads(metrics.read_text()))
    return figures, token, True


def _table(days: list[dict]) -> str:
    def cell(d: dict, key: str) -> str:
        if "precision" not in d and key != "run":
            return "-"
        if key in ("precision", "recall", "f1"):
            return f"{d[key]:.4f}"
        if key == "persons":
            return f"{d['hub_persons']:,} / {d['true_elders']:,}"
        if key == "unlinked":
            return f"{d['elder_records_unlinked']:,} ({d['elder_records_unlinked_quarantined']:,} quarantined)"
        if key == "golden":
            return f"{d['golden_disagreements']:,}"
        if key == "run":
            return f"{d['run_seconds']:.0f}s" + ("" if d["run_rc"] == 0 else f" (exit {d['run_rc']})")
        if key == "as_of":
            same = "" if d["hub_as_of"] == d["truth_as_of"] else " DIFFERENT"
            return f"{d['hub_as_of']} / {d['truth_as_of']}{same}"
        return f"{d[key]:,}"

    rows = [("pairwise precision", "precision"), ("pairwise recall", "recall"), ("pairwise F1", "f1"),
            ("non-elder records linked", "non_elder_linked"), ("persons / true elders", "persons"),
            ("split persons", "split"), ("merged persons", "merged"),
            ("elders' records left unlinked", "unlinked"), ("golden-field disagreements", "golden"),
            ("hub run wall time", "run"), ("as-of date (hub / truth)", "as_of")]
    cells = [[cell(d, key) for d in days] for _, key in rows]
    width = [max(len(f"day {d['day']}"), *(len(c[i]) for c in cells)) for i, d in enumerate(days)]
    lines = ["  ".join([f"{'':31}", *(f"{'day ' + str(d['day']):<{w}}" for d, w in zip(days, width, strict=True))])]
    for (label, _), row in zip(rows, cells, strict=True):
        lines.append("  ".join([f"{label:31}", *(f"{c:<{w}}" for c, w in zip(row, width, strict=True))]))
    return "\n".join(line.rstrip() for line in lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--elders", type=int, default=3400)
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--now", type=_now_arg, default=_now_arg("2026-12-07T10:00:00+08:00"),
                    help="the data's clock on day 1 (day 2 is two hours later, on the same date)")
    ap.add_argument("--workdir", default=None, help="keep everything here (new, empty, or an earlier run's)")
    ap.add_argument("--examples", type=int, default=4, help="masked examples per finding in the reports")
    args = ap.parse_args()

    now1 = args.now
    now2 = now1 + DAY2_AFTER
    if now2.astimezone(SHANGHAI).date() != now1.astimezone(SHANGHAI).date():
        print(f"error: --now {now1.astimezone(SHANGHAI).isoformat()} leaves no room for day 2 (two hours later) on "
              "the same Shanghai date; the truth judges who is 60+ once. Give an earlier time of day.",
              file=sys.stderr)
        return 2
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        try:
            hub = _hub_bin()
            work = _workdir(args.workdir, stack)
            print(f"independent platforms: {args.elders:,} elders, seed {args.seed}, work directory {work}",
                  flush=True)
            t = time.monotonic()
            gen = _step([str(IND / "gen.py"), "--seed", str(args.seed), "--elders", str(args.elders),
                         "--now", now1.isoformat(), "--out", str(work / "data")], work / "gen.log", "gen.py")
            print(f"generated in {time.monotonic() - t:.0f}s:\n" + "".join("  " + line for line in
                                                                       gen.splitlines(keepends=True)),
                  end="", flush=True)
            ports = _free_ports(len(PLATFORMS))
            days: list[dict] = []
            fig, token, ok = _day(1, hub=hub, work=work, data=work / "data", now=now1, ports=ports, token=None,
                                  examples=args.examples)
            days.append(fig)
            if ok:
                print("\n=== day 2: changes (mutate.py) ===", flush=True)
                log = _step([str(IND / "mutate.py"), "--src", str(work / "data"), "--dst", str(work / "data2"),
                             "--now", now2.isoformat()], work / "mutate.log", "mutate.py")
                print("".join("  " + line for line in log.splitlines(keepends=True)), end="", flush=True)
                fig, token, ok = _day(2, hub=hub, work=work, data=work / "data2", now=now2, ports=ports,
                                      token=token, examples=args.examples)
                days.append(fig)
        except BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"\n=== independent platforms, {args.elders:,} elders, seed {args.seed}: the hub against their "
              f"truth ===\n{_table(days)}")
        print(f"benchmark wall time {time.monotonic() - started:.0f}s"
              + (f"; everything kept in {work}" if args.workdir else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
