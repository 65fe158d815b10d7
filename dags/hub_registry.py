"""Link the registry's inputs into the elder registry, judge the subsidy rules over it,
and publish both — whenever the inputs change (``hub://accepted``, updated by the
validation of ``hub_ingest``), or when triggered by hand.

``link`` writes the next registry release in one transaction (stable ids, history);
``judge`` runs every rule of POLICY.md over it and merges the findings (stewards'
decisions kept); ``publish`` makes that release the one consumers see, with a staleness
flag for every source whose latest read failed or was held by quality. Readers see the
previous publication or the new one, never a half-built registry.

Params: ``link_mode`` — ``auto`` (incremental: only what the day's changes touch is judged
again, with the last full run's model; full when that model is ``HUB_LINK_FULL_AFTER_DAYS``
old), ``full`` (estimate the model again, judge everything) or ``rebuild`` (judge and
build everything with the stored model); ``window_start``/``window_end`` (``YYYY-MM-DD``)
judge a period of one's choosing —
a backfill of findings; by default the window runs from the earliest transaction to the
platforms' as-of date. The logic lives in ``hub.pipeline``; ``hub run`` calls the same
functions.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from hub.assets import ACCEPTED, FINDINGS, REGISTRY, RELEASE


@dag(
    dag_id="hub_registry",
    schedule=[ACCEPTED],
    start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["hub", "registry"],
    params={
        "link_mode": Param("auto", enum=["auto", "full", "rebuild"],
                           description="auto: incremental where it can be; full: estimate the model again"),
        "window_start": Param(None, type=["null", "string"], description="first day judged (YYYY-MM-DD)"),
        "window_end": Param(None, type=["null", "string"], description="last day judged (YYYY-MM-DD)"),
    },
)
def hub_registry() -> None:
    @task(inlets=[ACCEPTED], outlets=[RELEASE], retries=1)
    def link() -> dict:
        from airflow.sdk import get_current_context

        from hub.pipeline import link_step

        return link_step(get_current_context()["params"].get("link_mode") or "auto")

    @task(inlets=[RELEASE], outlets=[FINDINGS], retries=1)
    def judge() -> int:
        from airflow.sdk import get_current_context

        from hub.pipeline import judge_step, window_params

        start, end = window_params(get_current_context()["params"])
        return judge_step(start, end)["rule_run"]

    @task(inlets=[RELEASE, FINDINGS], outlets=[REGISTRY], retries=1)
    def publish(rule_run: int) -> dict:
        from hub.pipeline import publish_step

        return publish_step(rule_run)

    judged = judge()
    link() >> judged
    publish(judged)


hub_registry()
