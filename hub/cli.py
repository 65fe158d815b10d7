"""The ``hub`` command line. Every command honours ``HUB_HOME`` and ``HUB_DATABASE_URL``
and reads platform connections from ``AIRFLOW_CONN_<ID>`` like Airflow does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from hub import logs
from hub.errors import HubError
from hub.settings import get_settings


def _say(msg: str) -> None:
    click.echo(msg, err=True)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def cli(verbose: bool) -> None:
    """Elder Data Hub: ingest, validate, link and judge Qingdao's elderly-care data."""
    logs.setup(verbose)


@cli.command()
@click.option("--platform", "platforms", multiple=True, help="only these platforms (repeatable)")
@click.option("--json", "as_json", is_flag=True, help="print the run summary as JSON on stdout")
@click.option("--strict", is_flag=True, help="exit 3 when a registry was published but some platform "
                                             "failed or some resource was blocked")
def run(platforms: tuple[str, ...], as_json: bool, strict: bool) -> None:
    """Run the pipeline once against the platforms named by AIRFLOW_CONN_* connections:
    ingest, validate (quarantine, gate, promote to the registry's inputs), link and
    publish the registry.

    Exit status: 0 when a registry was published — also when some platform failed or
    some resource was blocked by quality: the registry then carries that source's last
    good data, and the output says so (with --strict such a run exits 3); 1 when nothing
    was published (no platform landed, or linking failed).
    """
    from landing.ingest import ingest_all

    settings = get_settings()
    settings.ensure_home()
    result = ingest_all(platforms or _named_platforms(), settings=settings, progress=_say)
    _summary(result)
    if result.status == "failed":
        _say("no platform landed: nothing validated, linked or published")
        sys.exit(1)
    quality = _validate(settings, result.run_id)
    linked = _link(settings)
    judged = _judge(settings)
    pub = _publish(judged.run_id)
    if as_json:
        click.echo(json.dumps({**result.as_dict(), "quality": quality.as_dict(),
                               "registry": linked.as_dict(), "findings": judged.as_dict(),
                               "publication": {"id": pub.id, "release": pub.release, "stale": pub.stale,
                                               "sources": pub.sources}}, default=str))
    sys.exit(_exit_status(result.status, quality.status, strict))


def _named_platforms() -> list[str] | None:
    """The platforms an ``AIRFLOW_CONN_<ID>`` variable names (REGISTRY.md: `hub run` runs
    against those); None — all five, each failing with a message saying which variable to
    set — when none is named."""
    from connectors import PLATFORMS

    named = [p for p in PLATFORMS if os.environ.get(f"AIRFLOW_CONN_{p.upper()}")]
    if named and len(named) < len(PLATFORMS):
        _say(f"no AIRFLOW_CONN_* for {', '.join(p for p in PLATFORMS if p not in named)}: not read this run "
             "(the registry keeps what they delivered before)")
    return named or None


def _exit_status(ingest_status: str, quality_status: str, strict: bool = False) -> int:
    if ingest_status == "failed":
        return 1
    degraded = ingest_status == "partial" or quality_status == "blocked"
    if degraded:
        _say("WARNING: the registry was published with the last good data of the sources that failed "
             "or were blocked (see above)")
    return 3 if degraded and strict else 0


def _link(settings, mode: str = "auto"):  # noqa: ANN001, ANN202
    from linking.run import LinkModeError, link

    _say("")
    try:
        return link(settings, progress=_say, mode=mode)
    except LinkModeError as exc:
        raise click.ClickException(str(exc)) from exc


def _publish(rule_run: int | None):  # noqa: ANN202
    from hub.db import get_engine
    from registry.publish import publish

    with get_engine().begin() as conn:
        pub = publish(conn, rule_run_id=rule_run)
    _say(f"published registry release {pub.release} (publication {pub.id})")
    for key, src in (pub.sources or {}).items():
        if src["status"] == "stale":
            _say(f"  STALE {key}: {src['reason']}; last good read {src['last_good'] or 'never'}")
    from hub.report import write_summary

    _say(f"run summary: {write_summary(get_engine(), (get_settings().ensure_home() / 'reports').resolve())}")
    return pub


@cli.group("publish", invoke_without_command=True)
@click.pass_context
def publish_group(ctx: click.Context) -> None:
    """Publish the newest linked registry release (what exports and the API serve)."""
    if ctx.invoked_subcommand is None:
        _publish(None)


@publish_group.command("rollback")
@click.option("--to", "to_release", type=int, help="the release to publish again (default: the one before)")
def publish_rollback(to_release: int | None) -> None:
    """Publish an earlier release again (one of the last HUB_PUBLISH_KEEP publications)."""
    from hub.db import get_engine
    from registry.publish import rollback

    with get_engine().begin() as conn:
        pub = rollback(conn, get_settings().publish_keep, to_release)
    _say(f"publication {pub.id}: {pub.note}")


def _judge(settings):  # noqa: ANN001, ANN202
    from rules.judge import judge

    _say("")
    result = judge(settings, progress=_say)
    _say(f"findings: {result.found:,} in {result.seconds:.1f}s (rule run {result.run_id}); "
         "`hub export findings` writes them")
    return result


@cli.command("judge")
@click.option("--window-start", type=click.DateTime(["%Y-%m-%d"]),
              help="first day judged (default HUB_RULES_WINDOW_START, else the earliest transaction received)")
def judge_cmd(window_start) -> None:  # noqa: ANN001
    """Judge the subsidy rules (POLICY.md) over the published registry: every finding with
    its evidence; stewards' decisions are kept."""
    from rules.judge import judge

    settings = get_settings()
    settings.ensure_home()
    result = judge(settings, progress=_say, window_start=window_start.date() if window_start else None)
    _say(f"findings: {result.found:,} in {result.seconds:.1f}s (rule run {result.run_id})")


@cli.group("finding")
def finding_group() -> None:
    """Stewards' decisions on findings."""


@finding_group.command("decide")
@click.argument("finding_id")
@click.argument("decision", type=click.Choice(["confirmed", "dismissed", "fixed"]))
@click.option("--steward", required=True, help="who decides")
@click.option("--reason", help="why (required to dismiss)")
def finding_decide(finding_id: str, decision: str, steward: str, reason: str | None) -> None:
    """Confirm, dismiss (with a reason) or mark fixed a finding; every later run respects it."""
    from hub.db import get_engine
    from rules.findings import decide

    with get_engine().begin() as conn:
        decide(conn, finding_id, decision, steward, reason)
    _say(f"{finding_id}: {decision} by {steward}")


@cli.group("review")
def review_group() -> None:
    """The stewards' review queue of uncertain matches."""


@review_group.command("list")
@click.option("--limit", type=int, default=20, show_default=True, help="at most this many items (0: all)")
@click.option("--token", envvar="HUB_TOKEN", help="an API token; with pii:read the records are shown unmasked")
@click.option("--json", "as_json", is_flag=True, help="NDJSON on stdout instead of the side-by-side view")
def review_list(limit: int, token: str | None, as_json: bool) -> None:
    """The open items, likeliest first: the record and the candidate's record side by
    side, and what each comparison contributed to the match probability."""
    import orjson

    from hub.db import get_engine
    from registry.review import open_reviews
    from registry.tokens import audit, grant_for

    engine = get_engine()
    with engine.connect() as conn:
        grant = grant_for(conn, token)
        grant.require("persons:read")
        items = open_reviews(conn, pii=grant.pii, limit=limit or None)
    with engine.begin() as conn:
        audit(conn, grant, "review:list", len(items), grant.pii)
    if as_json:
        for item in items:
            sys.stdout.buffer.write(orjson.dumps(item, default=str) + b"\n")
        return
    if not items:
        _say("no uncertain matches wait for review")
    for item in items:
        rec, cand = item["record"], item["candidate"]
        click.echo(f"review {item['review_id']}: p = {item['probability']:.3f} that "
                   f"{rec['platform']}/{rec['resource']}/{rec['record_id']} is person {item['person_id']} "
                   f"(their record {cand['platform']}/{cand['resource']}/{cand['record_id']})")
        for field in [k for k in rec if k not in ("platform", "resource", "record_id")] + [
                k for k in cand if k not in rec]:
            click.echo(f"    {field:14} {rec.get(field) or '—':<24} {cand.get(field) or '—'}")
        why = ", ".join(f"{e['comparison']} {e['level']} ({e['weight']:+.1f})" for e in item["explanation"]
                        if e["level"] != "null")
        click.echo(f"    why: {why}")
    if items:
        _say("decide: hub review decide REVIEW_ID must_link|cannot_link --steward NAME [--reason …]; "
             "the next `hub link` applies it")


@review_group.command("decide")
@click.argument("review_id", type=int)
@click.argument("decision", type=click.Choice(["must_link", "cannot_link"]))
@click.option("--steward", required=True, help="who decides")
@click.option("--reason", help="why")
def review_decide(review_id: int, decision: str, steward: str, reason: str | None) -> None:
    """Decide a review item: the two records are (must_link) or are not (cannot_link)
    the same person. Kept, and respected by every later linking run."""
    from hub.db import get_engine
    from registry.review import decide_review

    with get_engine().begin() as conn:
        decide_review(conn, review_id, decision, steward, reason)
    _say(f"review {review_id}: {decision} by {steward}; the next `hub link` applies it")


@cli.command("link")
@click.option("--full", "mode", flag_value="full",
              help="estimate the linkage model again and judge every record (default: incremental where it can be)")
@click.option("--rebuild", "mode", flag_value="rebuild",
              help="judge every record and build every golden record again, with the stored model")
def link_cmd(mode: str | None) -> None:
    """Link the validated records into persons and publish the next registry release
    (the subsidy rules are not judged: `hub judge`, or `hub run` for everything).

    A run is incremental — the last full run's model, only the records the changes since
    can have touched judged again — unless there is none yet, or the model is
    HUB_LINK_FULL_AFTER_DAYS old by the platforms' date (7); the result is the registry a
    full run with that model would publish."""
    settings = get_settings()
    settings.ensure_home()
    _link(settings, mode or "auto")
    _publish(None)


def _validate(settings, ingest_run_id: int | None):  # noqa: ANN001, ANN202
    from quality.validate import validate

    _say("")
    result = validate(settings, ingest_run_id=ingest_run_id, progress=_say)
    _say(f"quality run {result.run_id}: {result.status} in {result.seconds:.1f}s")
    for r in result.resources:
        if r.status == "blocked":
            _say(f"  BLOCKED {r.platform}/{r.resource}: {r.reason} — the registry keeps its last good data")
    _say(f"quality report for stewards: {settings.home.resolve() / 'reports' / 'quality' / 'index.html'}")
    if result.docs:
        _say(f"Great Expectations Data Docs: {result.docs.resolve()}")
    return result


@cli.command()
def validate() -> None:
    """Validate what ingest staged and has not been judged yet (see `hub run`).

    Exit status: 0 when nothing was blocked, 3 when some resource was.
    """
    settings = get_settings()
    settings.ensure_home()
    result = _validate(settings, None)
    sys.exit(3 if result.status == "blocked" else 0)


def _report_linkage(linked, truth_dir: Path) -> None:  # noqa: ANN001
    """The demo knows the truth of its synthetic data: say how well the registry links it."""
    from hub.db import get_engine
    from linking.evaluate import score_release

    score = score_release(get_engine(), truth_dir)
    if score is not None:
        _say(f"linkage against the ground truth: {score}")


def _report_findings(truth_dir: Path) -> None:
    """The demo knows the breaches it planted: say how well the rules find them."""
    from hub.db import get_engine
    from rules.evaluate import score_findings

    scores = score_findings(get_engine(), truth_dir)
    if scores:
        _say("findings against the planted breaches (precision / recall):")
        for code, s in scores.items():
            _say(f"  {code:32} {s}")


def _summary(result) -> None:
    s = get_settings()
    _say("")
    _say(f"ingest run {result.run_id}: {result.status} — {result.received:,} records in "
         f"{result.seconds:.1f}s ({result.received / max(result.seconds, 1e-9):,.0f}/s)")
    _say(f"{'source':45} {'received':>10} {'new':>10} {'dup':>8} {'rejected':>8} {'tombst.':>8}  status")
    for b in result.batches:
        _say(f"{b.platform + '/' + b.resource:45} {b.received:>10,} {b.landed_new:>10,} "
             f"{b.landed_duplicate:>8,} {b.rejected:>8,} {b.tombstones:>8,}  {b.status}"
             + (f" — {b.error}" if b.error else ""))
    from sqlalchemy import make_url

    _say(f"database: {make_url(s.db_url).render_as_string(hide_password=True)}")


@cli.command()
@click.option("--elders", default=500, show_default=True, help="size of the synthetic population")
@click.option("--seed", default=42, show_default=True)
@click.option("--noise-scale", default=1.0, show_default=True, help="multiply every noise rate")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--base-port", default=8101, show_default=True,
              help="civil_affairs on this port, then health, medical_insurance, public_security, "
                   "property_mgmt (0: free ports, announced on start)")
@click.option("--faults/--no-faults", default=True, show_default=True, help="transient 429/5xx at contract rates")
@click.option("--rate-limit/--no-rate-limit", default=True, show_default=True, help="20 requests/s per client")
@click.option("--prefix", default="", help="path prefix before every route, e.g. /gateway")
@click.option("--truth-out", type=click.Path(path_type=Path), help="write the ground truth here")
@click.option("--down", multiple=True, type=click.Choice(["civil_affairs", "health", "medical_insurance",
                                                          "public_security", "property_mgmt"]),
              help="a platform that answers every request 503 (repeatable): an outage")
@click.option("--ready-file", type=click.Path(path_type=Path), hidden=True)
def simulate(elders: int, seed: int, noise_scale: float, host: str, base_port: int, faults: bool,
             rate_limit: bool, prefix: str, truth_out: Path | None, down: tuple[str, ...],
             ready_file: Path | None) -> None:
    """Start simulators of the five platforms on loopback ports (until Ctrl-C)."""
    from connectors import PLATFORMS
    from simulators.runtime import build_world, serve

    store, truth, clock = build_world(elders=elders, seed=seed, noise_scale=noise_scale, progress=_say)
    if truth_out:
        truth.write(truth_out)
        _say(f"ground truth written to {truth_out}")
    # --base-port 0: a free ephemeral port for every platform
    ports = {p: (base_port + i if base_port else 0) for i, p in enumerate(PLATFORMS)}
    serve(store, clock, host=host, ports=ports, prefix=prefix, faults=faults, rate_limit=rate_limit,
          ready_file=ready_file, announce=_say, down=down)


@cli.command()
@click.option("--elders", default=2000, show_default=True, help="size of the synthetic population")
@click.option("--seed", default=42, show_default=True)
@click.option("--airflow/--no-airflow", "through_airflow", default=True, show_default=True,
              help="run the pipeline as the Airflow DAGs (airflow dags test on an embedded SQLite "
                   "metadata database), or in this process")
def demo(elders: int, seed: int, through_airflow: bool) -> None:
    """The main job end to end on embedded defaults: start the bundled simulators, run the
    pipeline against them into the SQLite database under HUB_HOME, report."""
    settings = get_settings()
    home = settings.ensure_home().resolve()
    _say(f"HUB_HOME={home}")
    _say(f"starting simulators of the five platforms ({elders:,} elders, seed {seed})…")
    ready = Path(tempfile.mkdtemp(prefix="hub-demo-")) / "ready.json"
    truth_dir = home / "truth"
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "simulate", "--elders", str(elders),
                             "--seed", str(seed), "--base-port", "0", "--truth-out", str(truth_dir),
                             "--ready-file", str(ready)], start_new_session=True)
    try:
        deadline = time.monotonic() + 900
        while not ready.exists():
            if proc.poll() is not None:
                raise click.ClickException("the simulators stopped before they were ready (see above)")
            if time.monotonic() > deadline:
                raise click.ClickException("the simulators did not start within 15 minutes")
            time.sleep(0.2)
        conns = json.loads(ready.read_text())["connections"]
        for conn_id, value in conns.items():
            os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(value)
        code = _demo_airflow(settings, home) if through_airflow else _demo_here(settings)
        _say("")
        _say(f"ground truth of the synthetic data: {truth_dir}")
        _report_linkage(None, truth_dir)
        _report_findings(truth_dir)
        _say("inspect: uv run hub status; exports: uv run hub export persons | findings")
        if code:
            sys.exit(code)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _demo_here(settings) -> int:  # noqa: ANN001
    from landing.ingest import ingest_all

    result = ingest_all(settings=settings, trigger="demo", progress=_say)
    _summary(result)
    if result.status == "failed":
        raise click.ClickException("no platform landed (see above)")
    quality = _validate(settings, result.run_id)
    _link(settings)
    judged = _judge(settings)
    _publish(judged.run_id)
    return _exit_status(result.status, quality.status)


def _demo_airflow(settings, home: Path) -> int:  # noqa: ANN001
    """The pipeline as it runs in production: the two DAGs, run by ``airflow dags test``."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from hub.airflow_run import airflow_env, dags_test, migrate

    env = airflow_env(home)
    env["HUB_DATABASE_URL"] = settings.db_url
    _say(f"Airflow: metadata database under {env['AIRFLOW_HOME']} (airflow db migrate)…")
    migrate(env)
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    _say(f"Airflow: running DAG hub_ingest for {day} (ingest every platform and resource, validate)…")
    ingest_ok = dags_test(env, "hub_ingest", day, _say)
    _say("Airflow: running DAG hub_registry (link, judge the subsidy rules, publish)…")
    if not dags_test(env, "hub_registry", day, _say):
        raise click.ClickException(f"the registry DAG failed: see {env['AIRFLOW_HOME']}/demo-hub_registry.log")
    _say("")
    _airflow_report(settings)
    _say("")
    _say("The Airflow UI: AIRFLOW_HOME=" + env["AIRFLOW_HOME"] + " AIRFLOW__CORE__DAGS_FOLDER=" +
         env["AIRFLOW__CORE__DAGS_FOLDER"] + " uv run airflow standalone   (then http://localhost:8080; "
         "the login is printed at start)")
    if not ingest_ok:
        _say("WARNING: some platform could not be read (see above); the registry was published with its last good data")
    return 0


def _airflow_report(settings) -> None:  # noqa: ANN001
    """What the DAGs did, from the hub's database: the same summary ``hub run`` prints."""
    from sqlalchemy import select

    from hub.db import get_engine
    from landing.ingest import BatchResult, RunResult
    from registry.publish import current_publication
    from rules.findings import finding_counts
    from schemas.landing import IngestBatch, IngestRun

    engine = get_engine(settings)
    with engine.connect() as conn:
        run = conn.execute(select(IngestRun.__table__).order_by(IngestRun.id.desc()).limit(1)).one()
        batches = [BatchResult(b.platform, b.resource, b.id, b.status, b.received, b.landed_new, b.landed_duplicate,
                               b.rejected, b.tombstones, 0.0, b.error)
                   for b in conn.execute(select(IngestBatch.__table__).where(IngestBatch.run_id == run.id)
                                         .order_by(IngestBatch.id))]
        seconds = ((run.finished_at or run.started_at) - run.started_at).total_seconds()
        pub = current_publication(conn)
        counts = finding_counts(conn)
    _summary(RunResult(run.id, run.status, batches, seconds))
    home = settings.home.resolve()
    _say(f"quality report for stewards: {home / 'reports' / 'quality' / 'index.html'}")
    if pub is not None:
        stale = [k for k, v in (pub.sources or {}).items() if v["status"] == "stale"]
        _say(f"published registry release {pub.release} (publication {pub.id})"
             + (f"; STALE: {', '.join(stale)}" if stale else "; every source fresh"))
    _say("findings (open) per rule: " + ", ".join(f"{k} {v['open']}" for k, v in sorted(counts.items())))
    _say(f"findings report: {home / 'reports' / 'findings' / 'index.html'}; run summary: {home / 'reports' / 'index.html'}")


@cli.command()
@click.option("--runs", default=1, show_default=True, help="how many recent runs to show")
def status(runs: int) -> None:
    """Show the latest ingest runs with their per-resource counts and watermarks, and the
    latest validation."""
    from sqlalchemy import select

    from hub.db import get_engine
    from schemas.landing import IngestBatch, IngestRun
    from schemas.quality import QualityResource, QualityRun

    engine = get_engine()
    with engine.connect() as conn:
        rows = conn.execute(select(IngestRun).order_by(IngestRun.id.desc()).limit(runs)).all()
        if not rows:
            click.echo("no runs yet: try `hub demo` or `hub run`")
            return
        for r in rows:
            click.echo(f"run {r.id} [{r.trigger}] {r.status} started {r.started_at:%Y-%m-%d %H:%M:%S} UTC")
            for b in conn.execute(select(IngestBatch).where(IngestBatch.run_id == r.id).order_by(IngestBatch.id)):
                wm = b.watermark.isoformat() if b.watermark else "-"
                click.echo(f"  {b.platform + '/' + b.resource:45} {b.status:8} received {b.received:>9,} "
                           f"new {b.landed_new:>9,} dup {b.landed_duplicate:>7,} rejected {b.rejected:>6,} "
                           f"tombstones {b.tombstones:>6,} watermark {wm}" + (f"\n      error: {b.error}" if b.error else ""))
        _registry_status(conn)
        q = conn.execute(select(QualityRun).order_by(QualityRun.id.desc()).limit(1)).first()
        if q is None:
            click.echo("no validation yet: `hub validate`")
            return
        click.echo(f"quality run {q.id} {q.status} (ingest run {q.ingest_run_id or '-'}); "
                   f"report: {get_settings().home / 'reports' / 'quality' / 'index.html'}")
        for r in conn.execute(select(QualityResource).where(QualityResource.run_id == q.id)
                              .order_by(QualityResource.id)):
            click.echo(f"  {r.platform + '/' + r.resource:45} {r.status:8} checked {r.rows_checked:>9,} "
                       f"promoted {r.rows_promoted:>9,} quarantined {r.rows_quarantined:>7,} "
                       f"released {r.rows_released:>6,}" + (f"\n      {r.reason}" if r.reason else ""))


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8000, show_default=True, type=int, help="port to listen on")
def serve(host: str, port: int) -> None:
    """The HTTP API (persons under /v1/persons, findings under /v1/findings, OpenAPI at
    /openapi.json; tokens in `Authorization: Bearer`) and the stewards' console (/)."""
    import uvicorn

    from api.app import create_app

    _say(f"serving the registry API and console on http://{host}:{port}/ (OpenAPI: /openapi.json)")
    uvicorn.run(create_app(), host=host, port=port, log_level="info")


@cli.command("export")
@click.argument("what", type=click.Choice(["persons", "findings"]))
@click.option("--out", type=click.Path(path_type=Path), help="write here instead of standard output")
@click.option("--token", envvar="HUB_TOKEN", help="an API token whose grant decides what is shown "
              "(env HUB_TOKEN); without one, personal data is masked")
@click.option("--all", "all_findings", is_flag=True, help="findings: closed ones too (default: open only)")
def export(what: str, out: Path | None, token: str | None, all_findings: bool) -> None:
    """Write the published registry's persons (with their links) or findings as NDJSON.

    Full ID numbers, names and phones appear only when the token's grant includes
    pii:read (findings hold none); every export is written to the access log."""
    import orjson

    from hub.db import get_engine
    from registry.read import iter_persons, published_release
    from registry.tokens import audit, grant_for

    engine = get_engine()
    with engine.connect() as conn:
        grant = grant_for(conn, token)
        grant.require(f"{what}:read")
        release = published_release(conn)
    if release is None:
        raise click.ClickException("no registry has been published yet: run `hub run` first")
    n = 0
    try:
        with engine.connect() as conn:
            if what == "persons":
                rows = iter_persons(conn, release=release, pii=grant.pii)
            else:
                from rules.findings import iter_findings

                rows = iter_findings(conn, state=None if all_findings else "open")
            sink = out.open("wb") if out else sys.stdout.buffer
            try:
                for row in rows:
                    sink.write(orjson.dumps(row, default=str) + b"\n")
                    n += 1
                sink.flush()
            except BrokenPipeError:  # the reader stopped early (`| head`); what it got is logged
                sys.stdout = None  # type: ignore[assignment]
            finally:
                if out:
                    sink.close()
    finally:  # after the read transaction: every record handed out is in the access log
        with engine.begin() as conn:
            audit(conn, grant, f"export:{what}", n, grant.pii, f"release {release}")
    _say(f"{n:,} {what} of registry release {release}" + (f" written to {out}" if out else "")
         + ("" if grant.pii or what == "findings" else " (personal data masked)"))


@cli.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--name", required=True, help="who the token is for (unique)")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="persons:read, findings:read, pii:read (repeatable)")
def token_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create an API token; it is printed alone on the last line, once."""
    from hub.db import get_engine
    from registry.tokens import create_token

    with get_engine().begin() as conn:
        secret = create_token(conn, name, list(scopes))
    _say(f"token {name!r} with scopes {', '.join(sorted(set(scopes)))} — keep it; it is not shown again:")
    click.echo(secret)


def _registry_status(conn) -> None:  # noqa: ANN001
    from sqlalchemy import func, select

    from schemas.registry import LinkReview, LinkRun, RegistryRelease

    rel = conn.execute(select(RegistryRelease).order_by(RegistryRelease.release.desc()).limit(1)).first()
    from registry.publish import current_publication

    pub = current_publication(conn)
    if pub is not None:
        stale = {k: v for k, v in (pub.sources or {}).items() if v["status"] == "stale"}
        click.echo(f"published: registry release {pub.release} (publication {pub.id}, {pub.kind}, "
                   f"{pub.published_at:%Y-%m-%d %H:%M:%S} UTC)"
                   + (f"; stale sources: {', '.join(stale)}" if stale else "; every source fresh"))
    if rel is None:
        click.echo("no registry published yet: `hub link` (or `hub run`)")
    else:
        open_reviews = conn.execute(select(func.count()).select_from(LinkReview)
                                    .where(LinkReview.status == "open")).scalar_one()
        click.echo(f"newest registry release {rel.release}, linked {rel.published_at:%Y-%m-%d %H:%M:%S} UTC "
                   f"(as of {rel.as_of or '-'}): {rel.persons:,} persons, {rel.links:,} linked records, "
                   f"{open_reviews:,} uncertain matches awaiting review")
        mode = conn.execute(select(LinkRun.mode).where(LinkRun.id == rel.link_run_id)).scalar()
        model_of = conn.execute(select(LinkRun.as_of).where(LinkRun.status == "published", LinkRun.mode == "full")
                                .order_by(LinkRun.id.desc()).limit(1)).scalar()
        if mode:
            click.echo(f"  linked by a {mode} run; the linkage model was estimated by the full run as of "
                       f"{model_of or '-'} (`hub link --full` estimates it again)")
    failed = conn.execute(select(LinkRun).where(LinkRun.status == "failed").order_by(LinkRun.id.desc())
                          .limit(1)).first()
    if failed is not None and (rel is None or failed.id > rel.link_run_id):
        click.echo(f"  the latest link run {failed.id} FAILED: {failed.error}")


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the hub database to the newest schema (every command also does this)."""
    from hub.db import get_engine

    get_engine()
    click.echo("database is at the newest schema")


def main() -> None:
    try:
        cli(standalone_mode=True)
    except HubError as exc:
        _say(f"error: {exc}")
        sys.exit(1)


if __name__ == "__main__":
    main()
