"""Shared fixtures: databases (SQLite always, PostgreSQL where it answers), settings under
a temporary HUB_HOME, and simulators serving small hand-made worlds."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from hub.db import make_engine, upgrade
from hub.settings import HubSettings

PG_URL = os.environ.get("HUB_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_answers() -> bool:
    try:
        engine = make_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        return False


PG_AVAILABLE = _pg_answers()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, migrated database: an SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
        upgrade(make_engine(url))
        yield url
        return
    if not PG_AVAILABLE:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_URL} does not answer; CI needs it")
        pytest.skip(f"PostgreSQL at {PG_URL} does not answer")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    upgrade(make_engine(url))
    yield url
    from hub import db as hubdb

    for key in [k for k in hubdb._engines if schema in k]:
        hubdb._engines.pop(key).dispose()
    with admin.begin() as conn:
        conn.execute(text(f"drop schema {schema} cascade"))
    admin.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path) -> HubSettings:
    """Settings for a test: its own HUB_HOME and database, no client-side pacing."""
    return HubSettings(home=tmp_path / "home", database_url=db_url, requests_per_second=None,
                       export_poll_seconds=0.05, http_retries=10, commit_records=1,
                       ingest_workers=1)


@pytest.fixture
def sqlite_settings(tmp_path) -> HubSettings:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    return HubSettings(home=tmp_path / "home", database_url=url, requests_per_second=None,
                       export_poll_seconds=0.05, commit_records=1, ingest_workers=1)


@pytest.fixture
def serve(monkeypatch):  # noqa: ANN001, ANN201
    """Start simulators for a store (faults off unless given) and point AIRFLOW_CONN_* at
    them; stopped after the test."""
    from simulators.apps.base import Credentials
    from simulators.faults import FaultConfig
    from simulators.runtime import connections_for
    from simulators.server import start_simulators

    handles = []

    def _serve(store, clock, faults=None, prefix=""):  # noqa: ANN001, ANN202
        h = start_simulators(store, clock, faults or FaultConfig.none(export_ready_after_s=0.05),
                             Credentials(), prefix=prefix)
        handles.append(h)
        for platform, conn in connections_for(h.urls, Credentials()).items():
            monkeypatch.setenv(f"AIRFLOW_CONN_{platform.upper()}", json.dumps(conn))
        return h

    yield _serve
    for h in handles:
        h.stop()
