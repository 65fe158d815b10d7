"""The HTTP API (``hub serve``) on SQLite and PostgreSQL: tokens and scopes, paging,
masking, lookup by ID number, merged ids answering with their survivor, records linked to
nobody, findings, the OpenAPI document and the console."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from api.app import create_app
from hub.db import get_engine
from linking.run import link
from registry.tokens import create_token
from schemas.access import AccessLog
from schemas.findings import Finding
from tests.test_registry import (
    correct_second_registration,
    population,
    resident,
    second_registration,
)
from tests.world import id_number


@pytest.fixture
def client(settings):  # noqa: ANN001, ANN201
    return TestClient(create_app(settings, get_engine(settings)))


def bearer(engine, *scopes: str) -> dict[str, str]:  # noqa: ANN001
    with engine.begin() as conn:
        n = conn.execute(select(func.count()).select_from(AccessLog)).scalar_one()
        token = create_token(conn, f"app-{'-'.join(scopes)}-{n}", list(scopes))
    return {"Authorization": f"Bearer {token}"}


def test_every_read_needs_a_token_with_its_scope(settings, client) -> None:  # noqa: ANN001
    engine = get_engine(settings)
    population(engine, 3)
    link(settings)
    assert client.get("/v1/persons").status_code == 401
    assert client.get("/v1/persons", headers={"Authorization": "Bearer hub_not-a-token"}).status_code == 401
    findings_only = bearer(engine, "findings:read")
    assert client.get("/v1/persons", headers=findings_only).status_code == 403
    assert client.get("/v1/findings", headers=findings_only).status_code == 200
    assert client.get("/v1/findings", headers=bearer(engine, "persons:read")).status_code == 403
    spec = client.get("/openapi.json").json()
    assert {"/v1/persons", "/v1/persons/{person_id}", "/v1/findings"} <= set(spec["paths"])
    assert "hub_" not in client.get("/").text and client.get("/").status_code == 200


def test_persons_are_paged_masked_unless_granted_and_found_by_their_number(settings, client) -> None:  # noqa: ANN001
    engine = get_engine(settings)
    pop = population(engine, 10)
    link(settings)
    reader = bearer(engine, "persons:read")
    seen, after, pages = [], None, 0
    while True:
        page = client.get("/v1/persons", params={"limit": 4, **({"after": after} if after else {})},
                          headers=reader).json()
        seen += page["data"]
        pages += 1
        after = page["next"]
        if after is None:
            break
    assert pages == 3 and len(seen) == len({p["person_id"] for p in seen}) == 10
    numbers = {n for n, *_ in pop}
    for p in seen:  # masked: the area only (with the birth date, more would give the number back)
        assert p["id_card_no"][:6] == "370202" and set(p["id_card_no"][6:]) == {"*"}
        assert p["name"] not in {name for _, name, _, _ in pop} and p["birth_date"]
    number, name, _born, _sex = pop[2]
    found = client.post("/v1/persons/lookup", json={"id_card_no": f" {number.lower()} "}, headers=reader).json()
    [person] = found["data"]
    assert {"platform": "public_security", "resource": "residents", "record_id": "R2"} in [
        {k: link_[k] for k in ("platform", "resource", "record_id")} for link_ in person["links"]]
    assert client.post("/v1/persons/lookup", json={"id_card_no": "12345"}, headers=reader).status_code == 422
    full = client.get("/v1/persons", params={"limit": 1000}, headers=bearer(engine, "persons:read", "pii:read")).json()
    assert {p["id_card_no"] for p in full["data"]} == numbers and name in {p["name"] for p in full["data"]}
    with engine.connect() as conn:
        log = conn.execute(select(AccessLog.action, AccessLog.records, AccessLog.unmasked)).all()
    assert ("api:persons", 4, False) in log and ("api:persons", 10, True) in log


def test_a_merged_id_answers_with_its_survivor_and_a_record_says_whom_it_is_linked_to(settings, client) -> None:  # noqa: ANN001
    engine = get_engine(settings)
    pop = population(engine, 6)
    second_registration(engine, pop[4][3])
    resident(engine, "R-young", id_number("370202", "19840101", 11), "钱多多", date(1984, 1, 1), "M")
    first = link(settings).published.release
    reader = bearer(engine, "persons:read")
    extra = client.get("/v1/records/civil_affairs/elders/E-second", headers=reader).json()["person_id"]
    young = client.get("/v1/records/public_security/residents/R-young", headers=reader).json()
    assert young["person_id"] is None and young["method"] == "not_elder"  # linked to nobody, and says why
    assert client.get("/v1/records/civil_affairs/elders/NOPE", headers=reader).status_code == 404
    correct_second_registration(engine, pop[4])
    link(settings)
    survivor = client.get("/v1/records/public_security/residents/R4", headers=reader).json()["person_id"]
    assert survivor != extra
    answer = client.get(f"/v1/persons/{extra}", headers=reader).json()
    assert answer["person_id"] == survivor and answer["merged_from"] == extra
    assert client.get("/v1/persons/P999999999", headers=reader).status_code == 404
    changed = client.get("/v1/persons", params={"changed_since": first}, headers=reader).json()["data"]
    assert survivor in {p["person_id"] for p in changed} and len(changed) < 6


def test_findings_are_paged_and_read_one_by_one(settings, client) -> None:  # noqa: ANN001
    engine = get_engine(settings)
    population(engine, 2)
    link(settings)
    with engine.begin() as conn:
        for k, rule in enumerate(("MEAL_DUPLICATE", "MEAL_NOT_LUNCH", "MEAL_DUPLICATE")):
            conn.execute(insert(Finding).values(
                finding_id=f"F{k:04d}", natural_key=f"{rule}|P1|{k}", rule=rule, person_id="P000000001",
                period="2024-04-01", period_start=date(2024, 4, 1), period_end=date(2024, 4, 1),
                amount_at_risk=Decimal("3"), evidence=[["civil_affairs", "meal-records", f"M{k}"]],
                evidence_hash="h", state="closed" if k == 2 else "open", first_run=1, last_run=1))
    reader = bearer(engine, "findings:read")
    page = client.get("/v1/findings", params={"limit": 1}, headers=reader).json()
    assert [f["finding_id"] for f in page["data"]] == ["F0000"] and page["next"] == "F0000"
    rest = client.get("/v1/findings", params={"after": "F0000"}, headers=reader).json()
    assert [f["finding_id"] for f in rest["data"]] == ["F0001"] and rest["next"] is None
    every = client.get("/v1/findings", params={"state": "all", "rule": "MEAL_DUPLICATE"}, headers=reader).json()
    assert [f["finding_id"] for f in every["data"]] == ["F0000", "F0002"]
    one = client.get("/v1/findings/F0001", headers=reader).json()
    assert one["rule"] == "MEAL_NOT_LUNCH" and one["evidence"][0]["record_id"] == "M1"
    assert client.get("/v1/findings/F9", headers=reader).status_code == 404


def test_hub_serve_answers_over_http(sqlite_settings, tmp_path) -> None:  # noqa: ANN001
    """The command operators run: the API over a real socket, until it is stopped."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HUB_HOME": str(sqlite_settings.home), "HUB_DATABASE_URL": sqlite_settings.db_url}
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                spec = requests.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()[-2000:]
                time.sleep(0.2)
        assert spec.status_code == 200 and "/v1/findings" in spec.json()["paths"]
        assert requests.get(f"http://127.0.0.1:{port}/v1/persons", timeout=5).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_hub_run_reads_the_platforms_its_connections_name(monkeypatch) -> None:  # noqa: ANN001
    from connectors import PLATFORMS
    from hub.cli import _named_platforms

    for p in PLATFORMS:
        monkeypatch.delenv(f"AIRFLOW_CONN_{p.upper()}", raising=False)
    assert _named_platforms() is None  # none named: all five, each saying which variable to set
    monkeypatch.setenv("AIRFLOW_CONN_HEALTH", '{"conn_type":"http","host":"http://127.0.0.1:1"}')
    monkeypatch.setenv("AIRFLOW_CONN_PUBLIC_SECURITY", '{"conn_type":"http","host":"http://127.0.0.1:1"}')
    assert _named_platforms() == ["health", "public_security"]
