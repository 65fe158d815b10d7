"""The deployment files: the compose file parses and wires what the README promises
(no Docker engine runs here, so the file is checked, not started)."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def test_compose_file_declares_the_services_and_one_image() -> None:
    doc = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = doc["services"]
    for name in ("postgres", "airflow-init", "airflow-api-server", "airflow-scheduler",
                 "airflow-dag-processor", "airflow-triggerer", "simulators"):
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
