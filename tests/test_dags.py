"""The DAG files: they import cleanly, make no database query or connection lookup at
parse time, and run end to end with ``airflow dags test`` on an embedded SQLite
metadata database against the simulators."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DAGS = REPO / "dags"


def _airflow_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "PYTHONPATH": str(REPO),
    })
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
dag = bag.dags["hub_ingest"]
ids = sorted(t.task_id for t in dag.tasks)
print(ids)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env=_airflow_env(tmp_path), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    for platform in ("civil_affairs", "health", "medical_insurance", "public_security", "property_mgmt"):
        assert f"ingest_{platform}" in out.stdout
    assert "'validate'" in out.stdout and "'link'" in out.stdout and "'judge'" in out.stdout


@pytest.mark.slow
def test_airflow_dags_test_lands_every_platform(tmp_path: Path) -> None:
    from simulators.apps.base import Credentials
    from simulators.faults import FaultConfig
    from simulators.runtime import connections_for
    from simulators.server import start_simulators
    from tests.world import small_world

    store, clock = small_world(40)
    env = _airflow_env(tmp_path)
    env.update({"HUB_HOME": str(tmp_path / "hub"), "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}",
                "HUB_REQUESTS_PER_SECOND": "0"})
    airflow = [sys.executable, "-m", "airflow"]
    mig = subprocess.run(airflow + ["db", "migrate"], capture_output=True, text=True, env=env, timeout=600)
    assert mig.returncode == 0, mig.stderr[-3000:]
    with start_simulators(store, clock, FaultConfig(rate_429=0.05, rate_5xx=0.05, rate_limit_rps=None,
                                                    retry_after_s=0, export_ready_after_s=0.1)) as sims:
        for platform, conn in connections_for(sims.urls, Credentials()).items():
            env[f"AIRFLOW_CONN_{platform.upper()}"] = json.dumps(conn)
        run = subprocess.run(airflow + ["dags", "test", "hub_ingest"], capture_output=True, text=True,
                             env=env, timeout=900, cwd=REPO)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    from sqlalchemy import create_engine, text

    engine = create_engine(env["HUB_DATABASE_URL"])
    with engine.connect() as conn:
        runs = conn.execute(text("select trigger, status from ingest_run")).all()
        landed = dict(conn.execute(text(
            "select platform || '/' || resource, sum(landed_new) from ingest_batch group by 1")).all())
        quality = conn.execute(text("select ingest_run_id, status from quality_run")).all()
        accepted = conn.execute(text("select count(*) from acc_civil_affairs__elders")).scalar()
        published = conn.execute(text("select status, release from link_run")).all()
        elders_linked = conn.execute(text(
            "select count(distinct person_id) from person_link where valid_to is null "
            "and platform = 'civil_affairs' and resource = 'elders'")).scalar()
        judged = conn.execute(text("select status, release from rule_run")).all()
    assert runs == [("airflow", "success")]
    assert judged == [("done", 1)]
    assert published == [("published", 1)] and elders_linked == 40  # 40 distinct numbers
    assert len(quality) == 1 and quality[0][1] in ("passed", "warned"), quality
    assert accepted == 40
    for key in ("civil_affairs/elders", "medical_insurance/insured-persons", "public_security/residents",
                "property_mgmt/service-orders"):
        assert landed[key] == 40, key
