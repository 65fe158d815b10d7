"""Ingest the five platforms into the hub (landing + typed staging), incrementally,
validate what landed (quality suites, quarantine, the gate to the registry's inputs),
and link it into the published elder registry.

One task per platform, run in parallel; each reads its resources from the stored
watermarks and lands page by page, so a retried or re-run task lands nothing twice.
A failing platform is retried with backoff and never holds back the others: the run is
closed whatever happened (``all_done``), and says which platforms failed. Validation
follows the close and judges whatever was staged; a resource blocked by quality keeps its
last good data in the registry's inputs and does not fail the task. Linking then builds
the registry from those inputs and publishes the next release in one transaction, and
the subsidy rules judge it (findings, with stewards' decisions kept).
The logic lives in ``hub.pipeline``; ``hub run`` calls the same functions.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, dag, task

from connectors.platforms import PLATFORMS

STAGING = {p: Asset(f"hub://staging/{p}") for p in PLATFORMS}
ACCEPTED = Asset("hub://accepted")  # the registry's inputs, promoted by the quality gate
REGISTRY = Asset("hub://registry")  # the published registry (persons, links, history)
FINDINGS = Asset("hub://findings")  # the subsidy findings judged over the registry


@dag(
    dag_id="hub_ingest",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["hub", "ingest"],
    default_args={"retries": 3, "retry_delay": timedelta(minutes=1), "retry_exponential_backoff": True,
                  "max_retry_delay": timedelta(minutes=15)},
)
def hub_ingest() -> None:
    @task
    def open_run() -> int:
        from hub.pipeline import open_run as _open

        return _open("airflow")

    @task(trigger_rule="all_done", retries=0)
    def close_run(ingest_run: int) -> str:
        from hub.pipeline import close_run as _close

        return _close(ingest_run)

    ingest_run = open_run()
    ingests = []
    for platform in PLATFORMS:
        @task(task_id=f"ingest_{platform}", outlets=[STAGING[platform]])
        def ingest(ingest_run: int, platform: str = platform) -> list[dict]:
            from hub.pipeline import ingest_step

            return ingest_step(platform, ingest_run, airflow=True)

        ingests.append(ingest(ingest_run))
    @task(outlets=[ACCEPTED], retries=1)
    def validate(ingest_run: int) -> dict:
        from hub.pipeline import validate_step

        return validate_step(ingest_run)

    @task(outlets=[REGISTRY], retries=1)
    def link() -> dict:
        from hub.pipeline import link_step

        return link_step()

    @task(outlets=[FINDINGS], retries=1)
    def judge() -> dict:
        from hub.pipeline import judge_step

        return judge_step()

    closed = close_run(ingest_run)
    ingests >> closed >> validate(ingest_run) >> link() >> judge()


hub_ingest()
