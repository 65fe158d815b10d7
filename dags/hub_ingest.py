"""Ingest the five platforms into the hub (landing + typed staging), incrementally, and
validate what landed (quality suites, quarantine, the gate to the registry's inputs).

One task per platform and resource, the resources of one platform one at a time (they
share the platform's per-client rate limit), the platforms in parallel. Each reads from
its stored watermark and lands chunk by chunk, so a retried or re-run task lands nothing
twice. A platform that fails is retried with exponential backoff and never holds back the
others: the run is closed whatever happened (``all_done``) and says which ones failed.
Validation follows and judges whatever was staged; a resource blocked by quality keeps
its last good data in the registry's inputs. Validation updates ``hub://accepted``, on
which the ``hub_registry`` DAG is scheduled. When a platform could not be read, the DAG run
still ends failed (``every_platform_read``), so the outage shows where engineers look.

Params: ``full_refresh`` reads every resource from the beginning; ``since`` (an ISO
time, e.g. ``2024-06-01T00:00:00+08:00``) re-reads from that time — a backfill. The
watermark never moves backwards. The logic lives in ``hub.pipeline``; ``hub run`` calls
the same functions.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from connectors.platforms import PLATFORMS, RESOURCES
from hub.airflow_settings import READ_RETRIES, READ_RETRY_DELAY, READ_RETRY_MAX_DELAY
from hub.assets import ACCEPTED, PLATFORM, STAGING


@dag(
    dag_id="hub_ingest",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["hub", "ingest"],
    params={
        "full_refresh": Param(False, type="boolean", description="read every resource from the beginning"),
        "since": Param(None, type=["null", "string"],
                       description="re-read from this ISO time (a backfill); the watermark stays"),
    },
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

    @task(inlets=list(STAGING.values()), outlets=[ACCEPTED], retries=1)
    def validate(ingest_run: int) -> dict:
        from hub.pipeline import validate_step

        return validate_step(ingest_run)

    ingest_run = open_run()
    ingests = []
    for platform in PLATFORMS:
        @task(task_id=f"ingest_{platform}", inlets=[PLATFORM[platform]], outlets=[STAGING[platform]],
              max_active_tis_per_dagrun=1, retries=READ_RETRIES, retry_delay=READ_RETRY_DELAY,
              retry_exponential_backoff=True, max_retry_delay=READ_RETRY_MAX_DELAY)
        def ingest(resource: str, ingest_run: int, platform: str = platform) -> dict:
            from airflow.sdk import get_current_context

            from hub.pipeline import ingest_step, read_params

            full_refresh, since = read_params(get_current_context()["params"])
            return ingest_step(platform, ingest_run, resources=[resource], airflow=True,
                               full_refresh=full_refresh, since=since)[0]

        ingests.append(ingest.partial(ingest_run=ingest_run).expand(
            resource=[s.resource for s in RESOURCES[platform]]))

    @task
    def every_platform_read() -> None:
        """Fails the DAG run (after validation went ahead) when some platform could not
        be read: its tasks say which one and why."""

    ingests >> close_run(ingest_run) >> validate(ingest_run)
    ingests >> every_platform_read()


hub_ingest()
