"""The pipeline's steps as plain functions: ``hub run`` calls them in-process and the
Airflow DAGs call the very same ones, one task each."""

from __future__ import annotations

import logging
from datetime import date, datetime

from hub.db import get_engine
from hub.errors import HubError
from hub.settings import get_settings
from landing.ingest import BatchResult, ReadFrom, finish_run, ingest_platform, start_run

__all__ = ["PlatformFailed", "close_run", "ingest_step", "judge_step", "link_step", "open_run", "publish_step",
           "validate_step"]

log = logging.getLogger(__name__)


class PlatformFailed(HubError):
    """A platform's read failed; raised inside Airflow so the task is retried."""


def open_run(trigger: str) -> int:
    run_id = start_run(get_engine(), trigger)
    log.info("ingest run %d opened (%s)", run_id, trigger)
    return run_id


def ingest_step(platform: str, run_id: int, *, resources: list[str] | None = None, airflow: bool = False,
                full_refresh: bool = False, since: datetime | None = None) -> list[dict]:
    """Ingest one platform (or some of its resources) for run ``run_id``; raises
    :class:`PlatformFailed` when any of them failed (the others are landed and stay
    landed). ``full_refresh``/``since`` read from the beginning or from a time (backfill)."""
    settings = get_settings()
    settings.ensure_home()
    results: list[BatchResult] = ingest_platform(platform, run_id, settings=settings, airflow=airflow,
                                                 resources=resources, progress=log.info,
                                                 read_from=ReadFrom(full_refresh, since))
    failed = [r for r in results if r.status != "success"]
    for r in results:
        log.info("%s/%s: received %d = new %d + duplicate %d + rejected %d + tombstones %d [%s]",
                 r.platform, r.resource, r.received, r.landed_new, r.landed_duplicate, r.rejected,
                 r.tombstones, r.status)
    if failed:
        raise PlatformFailed(f"{platform}: {len(failed)} of {len(results)} resources failed: "
                             + "; ".join(f"{r.resource}: {r.error}" for r in failed))
    return [{"resource": r.resource, "received": r.received, "landed_new": r.landed_new} for r in results]


def close_run(run_id: int) -> str:
    status = finish_run(get_engine(), run_id)
    log.info("ingest run %d closed: %s", run_id, status)
    return status


def validate_step(ingest_run_id: int | None) -> dict:
    """Validate what the ingest run staged: quarantine, gate and promote (see
    ``quality.validate``). A blocked resource is not a task failure: the registry goes on
    with that resource's last good data, and the summary says so."""
    from quality.validate import validate

    settings = get_settings()
    settings.ensure_home()
    result = validate(settings, ingest_run_id=ingest_run_id, progress=log.info)
    for r in result.resources:
        if r.status == "blocked":
            log.warning("%s/%s blocked by quality: %s", r.platform, r.resource, r.reason)
    log.info("quality run %d: %s; report %s", result.run_id, result.status,
             settings.home / "reports" / "quality" / "index.html")
    return {"quality_run": result.run_id, "status": result.status,
            "blocked": [f"{r.platform}/{r.resource}" for r in result.resources if r.status == "blocked"]}


def link_step(mode: str = "auto") -> dict:
    """Link the registry's inputs into persons and publish the next release (see
    ``linking.run``: ``mode`` auto, full or rebuild); the numbers go to the task log,
    without personal data."""
    from linking.run import link

    settings = get_settings()
    settings.ensure_home()
    result = link(settings, progress=log.info, mode=mode)
    return result.as_dict()


def judge_step(window_start: date | None = None, window_end: date | None = None) -> dict:
    """Judge the subsidy rules over the newest linked release (see ``rules.judge``),
    optionally over a window of dates (a backfill); the counts per rule go to the task log."""
    from rules.judge import judge

    settings = get_settings()
    settings.ensure_home()
    result = judge(settings, progress=log.info, window_start=window_start, window_end=window_end)
    return result.as_dict()


def publish_step(rule_run: int | None = None) -> dict:
    """Make the newest linked release (judged by ``rule_run``) the published one; the
    stale sources are named in the log."""
    from hub.report import write_summary
    from registry.publish import publish

    settings = get_settings()
    with get_engine().begin() as conn:
        pub = publish(conn, rule_run_id=rule_run)
    stale = {k: v["reason"] for k, v in (pub.sources or {}).items() if v["status"] == "stale"}
    log.info("published registry release %d (publication %d)%s", pub.release, pub.id,
             f"; stale sources: {stale}" if stale else "")
    log.info("run summary: %s", write_summary(get_engine(), (settings.ensure_home() / "reports").resolve()))
    return {"publication": pub.id, "release": pub.release, "stale": stale}


def read_params(params: dict) -> tuple[bool, datetime | None]:
    """The ingest DAG's params: ``full_refresh`` and ``since`` (an ISO time with offset)."""
    since = params.get("since")
    if since:
        since_t = datetime.fromisoformat(str(since))
        if since_t.tzinfo is None:
            raise HubError(f"since={since!r} needs a UTC offset, e.g. 2024-06-01T00:00:00+08:00")
        return bool(params.get("full_refresh")), since_t
    return bool(params.get("full_refresh")), None


def window_params(params: dict) -> tuple[date | None, date | None]:
    """The registry DAG's params: the judgement window (``YYYY-MM-DD`` each, or none)."""
    return tuple(date.fromisoformat(str(params[k])) if params.get(k) else None  # type: ignore[return-value]
                 for k in ("window_start", "window_end"))
