"""The DAG files: they import cleanly, make no database query or connection lookup at
parse time, and run end to end with ``airflow dags test`` on an embedded SQLite
metadata database against the simulators."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DAGS = REPO / "dags"


def _airflow_env(tmp_path: Path) -> dict[str, str]:
    from hub.airflow_run import airflow_env

    env = airflow_env(tmp_path)  # what the demo uses: AIRFLOW_HOME under tmp_path, the DAG folder
    env["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
    return env


def test_dag_files_import_without_database_or_connections(tmp_path: Path) -> None:
    """Parse the DAG folder with every database connection and connection lookup made to
    fail loudly: parsing must not need them."""
    probe = f"""
import socket
import airflow.sdk  # Airflow's own start-up may set up its engine; only the DAG files are judged
import sqlalchemy
from sqlalchemy.engine import Engine
def _fail(what):
    def f(*a, **k):
        raise AssertionError(what + " at DAG parse time")
    return f
sqlalchemy.create_engine = _fail("database engine created")
Engine.connect = _fail("database connection")
Engine.raw_connection = _fail("database connection")
socket.socket.connect = _fail("network connection")
import connectors.connection as cc
cc.get_connection = _fail("platform connection lookup")
airflow.sdk.Connection.get = _fail("Airflow connection lookup")
import importlib.util, pathlib
for path in sorted(pathlib.Path({str(DAGS)!r}).glob("*.py")):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    print("parsed", path.name)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO,
                         env=_airflow_env(tmp_path), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "parsed hub_ingest.py" in out.stdout


def test_dagbag_has_no_import_errors(tmp_path: Path) -> None:
    code = f"""
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder={str(DAGS)!r})
assert not bag.import_errors, bag.import_errors
for dag_id in ("hub_ingest", "hub_registry"):
    dag = bag.dags[dag_id]
    print(dag_id, sorted(t.task_id for t in dag.tasks))
print("registry schedule:", type(bag.dags["hub_registry"].timetable).__name__)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env=_airflow_env(tmp_path), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    for platform in ("civil_affairs", "health", "medical_insurance", "public_security", "property_mgmt"):
        assert f"ingest_{platform}" in out.stdout
    assert "'validate'" in out.stdout and "'close_run'" in out.stdout and "'every_platform_read'" in out.stdout
    assert "'link'" in out.stdout and "'judge'" in out.stdout and "'publish'" in out.stdout
    assert "registry schedule: AssetTriggeredTimetable" in out.stdout  # rebuilt when its inputs change


@pytest.fixture(scope="module")
def airflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Airflow metadata database migrated once; each test starts from a copy of it."""
    home = tmp_path_factory.mktemp("airflow-template")
    env = _airflow_env(home)
    mig = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True,
                         env=env, timeout=600)
    assert mig.returncode == 0, mig.stderr[-3000:]
    return Path(env["AIRFLOW_HOME"]) / "airflow.db"


class Airflow:
    """An embedded Airflow (SQLite metadata database, a copy of ``airflow_db``) and a hub
    database under ``tmp_path``, with simulators in this process serving ``store``.

    ``workers``: the landing worker processes of each ingest task. The default (the number
    of cores) is what production runs; one lands in the task's own process, which spares
    each of the DAG's 14 ingest tasks about a second of starting processes — the tests
    that are about the DAG's behaviour, not landing's, use it."""

    def __init__(self, tmp_path: Path, airflow_db: Path, *, workers: int | None = None) -> None:
        self.env = _airflow_env(tmp_path)
        self.env.update({"HUB_HOME": str(tmp_path / "hub"), "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}",
                         "HUB_REQUESTS_PER_SECOND": "0", "HUB_TASK_RETRIES": "1", "HUB_HTTP_RETRIES": "3",
                         "HUB_TASK_RETRY_DELAY_SECONDS": "1", "HUB_RULES_WINDOW_START": "2024-01-01"})
        if workers is not None:
            self.env["HUB_INGEST_WORKERS"] = str(workers)
        home = Path(self.env["AIRFLOW_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(airflow_db, home / "airflow.db")

    def serve(self, sims) -> None:  # noqa: ANN001
        from simulators.apps.base import Credentials
        from simulators.runtime import connections_for

        for platform, conn in connections_for(sims.urls, Credentials()).items():
            self.env[f"AIRFLOW_CONN_{platform.upper()}"] = json.dumps(conn)

    def dags_test(self, dag_id: str, day: str = "2025-01-10", **popen) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "airflow", "dags", "test", dag_id, day], capture_output=True,
                              text=True, env=self.env, timeout=900, cwd=REPO, **popen)

    def sql(self, q: str) -> list:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.env["HUB_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                return conn.execute(text(q)).all()
        finally:
            engine.dispose()

    def scalar(self, q: str):  # noqa: ANN201
        return self.sql(q)[0][0]


def _faults(**kw):  # noqa: ANN202
    from simulators.faults import FaultConfig

    return FaultConfig(**{"rate_429": 0.05, "rate_5xx": 0.05, "rate_limit_rps": None, "retry_after_s": 0,
                          "export_ready_after_s": 0.1, **kw})


@pytest.mark.slow
def test_airflow_runs_the_pipeline_and_publishes_the_registry(tmp_path: Path, airflow_db: Path) -> None:
    from simulators.server import start_simulators
    from tests.world import small_world

    store, clock = small_world(40)
    af = Airflow(tmp_path, airflow_db)
    with start_simulators(store, clock, _faults()) as sims:
        af.serve(sims)
        run = af.dags_test("hub_ingest")
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    reg = af.dags_test("hub_registry")
    assert reg.returncode == 0, reg.stdout[-3000:] + reg.stderr[-3000:]
    assert af.sql("select trigger, status from ingest_run") == [("airflow", "success")]
    landed = dict(af.sql("select platform || '/' || resource, sum(landed_new) from ingest_batch group by 1"))
    for key in ("civil_affairs/elders", "medical_insurance/insured-persons", "public_security/residents",
                "property_mgmt/service-orders"):
        assert landed[key] == 40, key
    quality = af.sql("select status from quality_run")
    assert len(quality) == 1 and quality[0][0] in ("passed", "warned"), quality
    assert af.scalar("select count(*) from acc_civil_affairs__elders") == 40
    assert af.sql("select status, release from link_run") == [("published", 1)]
    assert af.scalar("select count(distinct person_id) from person_link where valid_to is null "
                     "and platform = 'civil_affairs' and resource = 'elders'") == 40  # 40 distinct numbers
    assert af.sql("select status, release from rule_run") == [("done", 1)]
    assert af.sql("select release, kind, stale from publication") == [(1, "publish", 0)]
    assert (Path(af.env["HUB_HOME"]) / "reports" / "index.html").exists()
    # lineage: OpenLineage events of every task, with the hub's datasets read and written
    events = [json.loads(line) for line in (tmp_path / "airflow" / "openlineage.ndjson").read_text().splitlines()]
    done = {e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE" and "." in e["job"]["name"]}
    names = lambda e, side: sorted(d["name"] for d in e[side])  # noqa: E731
    assert names(done["hub_ingest.ingest_civil_affairs"], "inputs") == ["civil_affairs"]
    assert names(done["hub_ingest.ingest_civil_affairs"], "outputs") == ["staging/civil_affairs"]
    assert names(done["hub_ingest.validate"], "outputs") == ["accepted"]
    assert len(done["hub_ingest.validate"]["inputs"]) == 5
    assert names(done["hub_registry.link"], "inputs") == ["accepted"]
    assert names(done["hub_registry.judge"], "outputs") == ["findings"]
    assert names(done["hub_registry.publish"], "inputs") == ["findings", "registry/release"]
    assert names(done["hub_registry.publish"], "outputs") == ["registry"]
    db = done["hub_registry.publish"]["outputs"][0]["namespace"]
    assert db == f"sqlite:///{tmp_path / 'hub.db'}", db  # the hub database, no credentials


# ------------------------------------------------------------------------ faults
# Day one lands 40 records of each of four resources; day two adds 5 more each. The
# platforms' clock moves from one day to the next between the runs.

DAY1, DAY2 = "2025-01-09", "2025-01-10"


def _two_days(bad_insured: bool = False):  # noqa: ANN202
    """small_world(40), plus day-two records (visible once the clock has moved on)."""
    from datetime import timedelta

    from tests.world import T0, civil_elder, id_number, mi_person, order, put, resident, small_world

    store, clock = small_world(40, finalize=False)
    t = T0 + timedelta(days=1, hours=1)
    for i in range(40, 45):
        put(store, "civil_affairs", "elders", "record_id", civil_elder(f"E{i:04d}", t), t)
        put(store, "public_security", "residents", "rid", resident(f"R{i:04d}", t), t)
        put(store, "property_mgmt", "service-orders", "order_id", order(f"O{i:04d}", t), t)
    for i in range(40, 60 if bad_insured else 45):
        good = id_number("370203", "19480312", i)
        certno = good[:-1] + ("0" if good[-1] != "0" else "1") if bad_insured else good  # a wrong check digit
        put(store, "medical_insurance", "insured-persons", "recordId", mi_person(f"M{i:04d}", t, certno=certno), t)
    store.finalize()
    return store, clock


def _day(af: Airflow, sims, day: str) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:  # noqa: ANN001
    ingest = af.dags_test("hub_ingest", day)
    registry = af.dags_test("hub_registry", day)
    assert registry.returncode == 0, registry.stdout[-3000:] + registry.stderr[-2000:]
    return ingest, registry


@pytest.mark.slow
def test_a_platform_down_for_a_whole_run_publishes_its_last_good_data_flagged_stale(tmp_path: Path, airflow_db: Path) -> None:
    from simulators.server import start_simulators

    store, clock = _two_days()
    af = Airflow(tmp_path, airflow_db, workers=1)
    with start_simulators(store, clock, _faults(rate_429=0, rate_5xx=0)) as sims:
        af.serve(sims)
        first, _ = _day(af, sims, DAY1)
        assert first.returncode == 0, first.stdout[-3000:]
        clock.advance(2 * 3600)
        sims.apps["property_mgmt"].outage = True  # 503 to every request, all day
        second, _ = _day(af, sims, DAY2)
    assert second.returncode != 0  # the DAG run says a task failed …
    assert af.sql("select status from ingest_run order by id") == [("success",), ("partial",)]
    # … the other platforms' new records landed and were linked
    assert af.scalar("select count(*) from acc_civil_affairs__elders") == 45
    assert af.scalar("select count(*) from person_link where valid_to is null and platform = 'civil_affairs' "
                     "and resource = 'elders' and person_id is not null") == 45
    # the registry keeps the platform's last good data, and says it is stale
    assert af.scalar("select count(*) from acc_property_mgmt__service_orders") == 40
    assert af.scalar("select count(*) from person_link where valid_to is null and platform = 'property_mgmt'") == 40
    pub = af.sql("select release, stale, sources from publication order by id desc limit 1")[0]
    sources = json.loads(pub[2])
    assert pub[1] == 1 and sources["property_mgmt/service-orders"]["status"] == "stale"
    assert "503" in sources["property_mgmt/service-orders"]["reason"]
    assert sources["property_mgmt/service-orders"]["last_good"] is not None
    assert {k for k, v in sources.items() if v["status"] == "stale"} == {"property_mgmt/service-orders"}


@pytest.mark.slow
def test_a_quality_block_on_one_platform_keeps_its_last_good_data(tmp_path: Path, airflow_db: Path) -> None:
    from simulators.server import start_simulators

    store, clock = _two_days(bad_insured=True)
    af = Airflow(tmp_path, airflow_db, workers=1)
    with start_simulators(store, clock, _faults(rate_429=0, rate_5xx=0)) as sims:
        af.serve(sims)
        _day(af, sims, DAY1)
        clock.advance(2 * 3600)
        second, _ = _day(af, sims, DAY2)
    assert second.returncode == 0, second.stdout[-3000:]  # a quality block is not a task failure
    blocked = af.sql("select platform || '/' || resource, status from quality_gate where status = 'blocked'")
    assert blocked == [("medical_insurance/insured-persons", "blocked")]
    assert af.scalar("select count(*) from acc_medical_insurance__insured_persons") == 40  # the last good batch
    assert af.scalar("select count(*) from acc_civil_affairs__elders") == 45  # the others go on
    pub = af.sql("select stale, sources from publication order by id desc limit 1")[0]
    sources = json.loads(pub[1])
    assert pub[0] == 1 and sources["medical_insurance/insured-persons"]["status"] == "stale"
    assert "quality" in sources["medical_insurance/insured-persons"]["reason"]


def _counts(af: Airflow) -> dict:
    return {"landed": af.scalar("select count(*) from landing_record"),
            "versions": af.scalar("select count(distinct platform || resource || record_id || version_hash) "
                                  "from landing_record"),
            "persons": af.scalar("select count(*) from person_version where valid_to is null"),
            "links": af.scalar("select count(*) from person_link where valid_to is null"),
            "findings": af.scalar("select count(*) from finding where state = 'open'"),
            **{t: af.scalar(f"select count(*) from {t}") for t in (
                "acc_civil_affairs__elders", "acc_medical_insurance__insured_persons",
                "acc_public_security__residents", "acc_property_mgmt__service_orders")}}


@pytest.mark.slow
def test_a_run_killed_midway_and_run_again_lands_everything_once(tmp_path: Path, airflow_db: Path) -> None:
    import signal
    import time

    from simulators.server import start_simulators
    from tests.world import small_world

    store, clock = small_world(40)
    af = Airflow(tmp_path, airflow_db)
    af.env.update({"HUB_PAGE_LIMIT": "4", "HUB_PROPERTY_PAGE_SIZE": "4", "HUB_REQUESTS_PER_SECOND": "8",
                   "HUB_COMMIT_RECORDS": "4"})
    with start_simulators(store, clock, _faults(rate_429=0, rate_5xx=0)) as sims:
        af.serve(sims)
        proc = subprocess.Popen([sys.executable, "-m", "airflow", "dags", "test", "hub_ingest", DAY1],
                                env=af.env, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        landed = 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                landed = af.scalar("select count(*) from landing_record")
            except Exception:  # noqa: BLE001 - the tables may not exist yet
                landed = 0
            if landed >= 20:
                break
            time.sleep(0.2)
        assert proc.poll() is None and landed >= 20, "the run ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert af.scalar("select count(*) from landing_record") < 160
        again = af.dags_test("hub_ingest", DAY1)  # the same day again
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
        reg = af.dags_test("hub_registry", DAY1)
        assert reg.returncode == 0, reg.stdout[-3000:]
    c = _counts(af)
    assert c["landed"] == c["versions"] == 160  # every version exactly once
    for t in ("acc_civil_affairs__elders", "acc_medical_insurance__insured_persons",
              "acc_public_security__residents", "acc_property_mgmt__service_orders"):
        assert c[t] == 40, t


@pytest.mark.slow
def test_running_the_same_day_again_changes_nothing(tmp_path: Path, airflow_db: Path) -> None:
    from simulators.server import start_simulators
    from tests.world import small_world

    store, clock = small_world(40)
    af = Airflow(tmp_path, airflow_db, workers=1)
    with start_simulators(store, clock, _faults()) as sims:
        af.serve(sims)
        first, _ = _day(af, sims, DAY1)
        assert first.returncode == 0, first.stdout[-3000:]
        before = _counts(af)
        again, _ = _day(af, sims, DAY1)
        assert again.returncode == 0, again.stdout[-3000:]
    assert _counts(af) == before
    assert af.scalar("select sum(landed_new) from ingest_batch where run_id = 2") == 0
    assert af.sql("select versions_written from (select json_extract(stats, '$.versions_written') "
                  "as versions_written from link_run order by id desc limit 1)") == [(0,)]


def test_hub_assets_become_openlineage_datasets_without_credentials() -> None:
    from urllib.parse import urlsplit

    from hub.lineage import dataset_namespace, normalize, provider_info, to_openlineage

    secret = "postgresql+psycopg://hub:secret@db.example:5432/hub"
    assert dataset_namespace(secret) == "postgresql://db.example:5432/hub"
    assert dataset_namespace("sqlite:////var/lib/hub/hub.db") == "sqlite:////var/lib/hub/hub.db"
    assert normalize(urlsplit("hub://Staging/health/")).geturl() == "hub://staging/health"
    with pytest.raises(ValueError, match="names its area"):
        normalize(urlsplit("hub:///registry"))
    assert provider_info()["asset-uris"][0]["schemes"] == ["hub"]

    class _Asset:
        uri = "hub://platform/health"

    assert (to_openlineage(_Asset()).namespace, to_openlineage(_Asset()).name) == ("platform", "health")
