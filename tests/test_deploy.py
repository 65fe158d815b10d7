"""The deployment files: the compose file parses and wires what the README promises
(no Docker engine runs here, so the file is checked, not started)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


def test_compose_file_declares_the_services_and_one_image() -> None:
    doc = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = doc["services"]
    for name in ("postgres", "airflow-init", "airflow-api-server", "airflow-scheduler",
                 "airflow-dag-processor", "airflow-triggerer", "hub-api", "simulators"):
        assert name in services, name
    airflow = [s for n, s in services.items() if n.startswith("airflow-")]
    assert {s["image"] for s in airflow} == {"elder-data-hub:latest"}
    for s in airflow:
        env = s["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["HUB_DATABASE_URL"].startswith("postgresql://")
        assert "AIRFLOW_CONN_CIVIL_AFFAIRS" in env
    assert services["simulators"]["profiles"] == ["demo"]
    assert (REPO / "deploy/initdb/10-airflow-db.sql").exists()
    for cmd in (s["command"] for s in services.values() if "command" in s):
        assert cmd[0] in ("airflow", "hub", "bash"), cmd


def test_dockerfile_installs_from_the_lock_file() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "uv sync --frozen" in text and "FROM python:3.11" in text


def test_celery_variant_layers_workers_and_a_broker_over_the_same_services() -> None:
    base = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    celery = yaml.safe_load((REPO / "docker-compose.celery.yml").read_text())["services"]
    assert {"redis", "airflow-worker"} <= set(celery)
    for name, svc in celery.items():
        if name.startswith("airflow-"):
            assert svc["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
            assert name in base or name == "airflow-worker", name
    assert celery["airflow-worker"]["command"] == ["airflow", "celery", "worker"]
    assert "celery" in (REPO / "pyproject.toml").read_text()  # the provider is an extra of the project


# ------------------------------------------------------- the services, outside Docker


def _resolve(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}`` against ``env``."""
    import re

    def sub(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise AssertionError(f"compose needs {name}: {arg}")
        return arg or ""

    return re.sub(r"\$\{(\w+)(:-|:\?)?([^}]*)\}", sub, value)


@pytest.mark.slow
@pytest.mark.postgres
def test_the_compose_services_start_on_postgresql_from_their_own_commands(tmp_path) -> None:  # noqa: ANN001
    """Run what compose would run — the init command, then the api-server, scheduler,
    dag-processor and triggerer with their compose environment — against this machine's
    PostgreSQL (hosts and databases pointed here), and see each one come up."""
    import os
    import shlex
    import signal
    import socket
    import subprocess
    import sys
    import time
    import uuid

    import requests
    from sqlalchemy import create_engine, text

    from tests.conftest import PG_AVAILABLE, PG_URL

    if not PG_AVAILABLE:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_URL} does not answer; CI needs it")
        pytest.skip(f"PostgreSQL at {PG_URL} does not answer")
    doc = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = doc["services"]
    suffix = uuid.uuid4().hex[:8]
    hub_db, af_db = f"hub_deploy_{suffix}", f"airflow_deploy_{suffix}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    base = PG_URL.rsplit("/", 1)[0]  # postgresql://user@host:port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outside = {"HUB_JWT_SECRET": uuid.uuid4().hex * 2}
    here = {
        "postgresql://hub:hub@postgres:5432/hub": f"{base}/{hub_db}",
        "postgresql+psycopg://hub:hub@postgres:5432/airflow": f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{af_db}",
        "postgresql+psycopg_async://hub:hub@postgres:5432/airflow":
            f"{base.replace('postgresql://', 'postgresql+psycopg_async://', 1)}/{af_db}",
        "http://airflow-api-server:8080/execution/": f"http://127.0.0.1:{port}/execution/",
        "/opt/hub/dags": str(REPO / "dags"),
        "/var/lib/hub": str(tmp_path / "hub"),
    }

    def env_of(name: str) -> dict[str, str]:
        env = dict(os.environ)
        for k, v in services[name]["environment"].items():
            v = _resolve(str(v), outside)
            env[k] = here.get(v, v)
        env["AIRFLOW_HOME"] = str(tmp_path / "airflow")
        env["PYTHONPATH"] = str(REPO)
        # the image has the project's environment first on PATH; here it is this test's
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        return env

    def command(name: str) -> list[str]:
        return [str(port) if c == "8080" else c for c in services[name]["command"]]

    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {hub_db}"))
        conn.execute(text(f"CREATE DATABASE {af_db}"))
    procs: list[subprocess.Popen] = []
    try:
        init = subprocess.run(command("airflow-init"), env=env_of("airflow-init"), capture_output=True, text=True,
                              timeout=600, cwd=REPO)
        assert init.returncode == 0, shlex.join(command("airflow-init")) + "\n" + init.stderr[-3000:]
        logs = {}
        for name in ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
            logs[name] = (tmp_path / f"{name}.log").open("w")
            procs.append(subprocess.Popen(command(name), env=env_of(name), stdout=logs[name], stderr=subprocess.STDOUT,
                                          cwd=REPO, start_new_session=True))
        deadline = time.monotonic() + 240
        health = None
        while time.monotonic() < deadline:
            dead = [p.args for p in procs if p.poll() is not None]
            assert not dead, f"exited: {dead}; see {tmp_path}"
            try:
                health = requests.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5).json()
            except requests.RequestException:
                health = None
            if health and all((health.get(k) or {}).get("status") == "healthy"
                              for k in ("metadatabase", "scheduler", "triggerer", "dag_processor")):
                break
            time.sleep(2)
        assert health is not None, "the api-server never answered"
        for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
            assert (health.get(part) or {}).get("status") == "healthy", (part, health)
        with create_engine(f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{hub_db}").connect() as c:
            assert c.execute(text("select version_num from alembic_version")).scalar()  # hub db upgrade ran
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        with admin.connect() as conn:
            for db in (hub_db, af_db):
                conn.execute(text(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
