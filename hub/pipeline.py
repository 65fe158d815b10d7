"""The pipeline's steps as plain functions: ``hub run`` calls them in-process and the
Airflow DAGs call the very same ones, one task each."""

from __future__ import annotations

import logging

from hub.db import get_engine
from hub.errors import HubError
from hub.settings import get_settings
from landing.ingest import BatchResult, finish_run, ingest_platform, start_run

__all__ = ["PlatformFailed", "close_run", "ingest_step", "judge_step", "link_step", "open_run", "validate_step"]

log = logging.getLogger(__name__)


class PlatformFailed(HubError):
    """A platform's read failed; raised inside Airflow so the task is retried."""


def open_run(trigger: str) -> int:
    run_id = start_run(get_engine(), trigger)
    log.info("ingest run %d opened (%s)", run_id, trigger)
    return run_id


def ingest_step(platform: str, run_id: int, *, airflow: bool = False) -> list[dict]:
    """Ingest one platform for run ``run_id``; raises :class:`PlatformFailed` when any of
    its resources failed (the others are landed and stay landed)."""
    settings = get_settings()
    settings.ensure_home()
    results: list[BatchResult] = ingest_platform(platform, run_id, settings=settings, airflow=airflow,
                                                 progress=log.info)
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


def link_step() -> dict:
    """Link the registry's inputs into persons and publish the next release (see
    ``linking.run``); the numbers go to the task log, without personal data."""
    from linking.run import link

    settings = get_settings()
    settings.ensure_home()
    result = link(settings, progress=log.info)
    return result.as_dict()


def judge_step() -> dict:
    """Judge the subsidy rules over the published registry (see ``rules.judge``); the
    counts per rule go to the task log."""
    from rules.judge import judge

    settings = get_settings()
    settings.ensure_home()
    result = judge(settings, progress=log.info)
    return result.as_dict()
