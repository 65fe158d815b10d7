"""The HTTP API over the published registry and its findings, and the stewards' console.

REGISTRY.md: tokens in ``Authorization: Bearer``; persons under ``/v1/persons``, findings
under ``/v1/findings``; the OpenAPI document at ``/openapi.json``. What a token may read is
its grant (``registry.tokens``): ``persons:read`` and ``findings:read``, with ID numbers,
names and phones masked unless it also holds ``pii:read``. Every read is written to the
access log with how many records it handed out and whether they were unmasked.

* ``GET /v1/persons?after=&limit=&changed_since=`` — the published persons in id order,
  a page at a time (``next`` is the ``after`` of the next page, null on the last);
  ``changed_since=R`` only those whose golden record changed after release ``R`` (a
  consumer's last read), so changes can be paged through.
* ``POST /v1/persons/lookup`` ``{"id_card_no": "…"}`` — the person holding an ID number
  (any form: 15 digits, lower-case ``x``, full width). A POST, so the number never
  appears in a URL, where access logs would keep it.
* ``GET /v1/persons/{person_id}`` — one person; an id merged into another answers with
  the survivor (``merged_from`` says which id was asked for).
* ``GET /v1/records/{platform}/{resource}/{record_id}`` — which person a source record is
  linked to, or that it is linked to nobody and why (``method``).
* ``GET /v1/findings?after=&limit=&state=&rule=&person_id=``, ``GET /v1/findings/{id}``.
* ``GET /`` — the console: the stewards' quality and findings pages (``HUB_HOME/reports``,
  which hold no personal data) and the API's own documentation (``/docs``).

Nothing touches the database until the first request (the app is built by
:func:`create_app`; ``hub serve`` runs it with uvicorn).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from sqlalchemy import Engine, select

from hub.settings import HubSettings, get_settings
from registry.tokens import Grant, TokenError, audit, grant_for

__all__ = ["create_app"]

_PAGE = Query(100, ge=1, le=1000, description="records per page")


class Lookup(BaseModel):
    id_card_no: str


def create_app(settings: HubSettings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Elder Data Hub", version="1",
                  description="The unified elder registry and its subsidy findings (REGISTRY.md).")
    bearer = HTTPBearer(auto_error=False, description="a token from `hub token create`")
    state: dict[str, Engine] = {}

    def db() -> Engine:
        if "engine" not in state:
            from hub.db import get_engine

            state["engine"] = engine or get_engine(settings)
        return state["engine"]

    def grant(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Grant:
        if creds is None or not creds.credentials:
            raise HTTPException(401, "a token is needed: Authorization: Bearer <token> (`hub token create`)",
                                headers={"WWW-Authenticate": "Bearer"})
        with db().connect() as conn:
            try:
                return grant_for(conn, creds.credentials)
            except TokenError as exc:
                raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc

    def needs(scope: str) -> Callable[..., Grant]:
        def check(g: Grant = Depends(grant)) -> Grant:
            try:
                g.require(scope)
            except TokenError as exc:
                raise HTTPException(403, str(exc)) from exc
            return g
        return check

    def logged(g: Grant, action: str, n: int, detail: str | None = None) -> None:
        with db().begin() as conn:
            audit(conn, g, action, n, g.pii, detail)

    def release_or_404(conn: Any) -> int:
        from registry.read import published_release

        release = published_release(conn)
        if release is None:
            raise HTTPException(404, "no registry has been published yet: run `hub run` first")
        return release

    def persons_page(g: Grant, action: str, detail: str, limit: int | None = None, **where: Any) -> tuple[int, list]:
        from registry.read import iter_persons

        with db().connect() as conn:
            release = release_or_404(conn)
            rows = list(iter_persons(conn, release=release, pii=g.pii, limit=limit, **where))
        logged(g, action, len(rows), f"release {release} {detail}".strip())
        return release, rows

    @app.get("/v1/persons", summary="the published persons, a page at a time")
    def persons(after: str | None = None, limit: int = _PAGE,
                changed_since: int | None = Query(None, ge=0, description="only persons changed after this release"),
                g: Grant = Depends(needs("persons:read"))) -> dict[str, Any]:
        release, rows = persons_page(g, "api:persons", f"after {after}" if after else "", limit=limit,
                                     after=after, changed_since=changed_since)
        return {"release": release, "data": rows, "next": rows[-1]["person_id"] if len(rows) == limit else None}

    @app.post("/v1/persons/lookup", summary="the person holding an ID number")
    def lookup(body: Lookup, g: Grant = Depends(needs("persons:read"))) -> dict[str, Any]:
        from landing.normalize import normalize_id_card

        number = normalize_id_card(body.id_card_no).value
        if number is None:
            raise HTTPException(422, "not a valid ID number (18 characters with the right check digit, or 15 digits)")
        release, rows = persons_page(g, "api:persons:lookup", "", id_card_no=number)
        return {"release": release, "data": rows}

    @app.get("/v1/persons/{person_id}", summary="one person; a merged-away id answers with the survivor")
    def person(person_id: str, g: Grant = Depends(needs("persons:read"))) -> dict[str, Any]:
        from registry.read import resolve_id

        with db().connect() as conn:
            release = release_or_404(conn)
            live = resolve_id(conn, person_id, release)
        if live is None:
            raise HTTPException(404, f"no person {person_id} in registry release {release}")
        _, rows = persons_page(g, "api:person", person_id, person_ids=[live])
        if not rows:
            raise HTTPException(404, f"no person {person_id} in registry release {release}")
        return {**rows[0], **({"merged_from": person_id} if live != person_id else {})}

    @app.get("/v1/records/{platform}/{resource}/{record_id}", summary="which person a source record is linked to")
    def record(platform: str, resource: str, record_id: str,
               g: Grant = Depends(needs("persons:read"))) -> dict[str, Any]:
        from registry.read import link_of

        with db().connect() as conn:
            release = release_or_404(conn)
            link = link_of(conn, platform, resource, record_id, release)
        if link is None:
            raise HTTPException(404, f"the registry release {release} has no record {platform}/{resource}/{record_id}")
        logged(g, "api:record", 1, f"release {release}")
        return {"release": release, **link}

    @app.get("/v1/findings", summary="subsidy findings, a page at a time")
    def findings(after: str | None = None, limit: int = _PAGE,
                 state: str | None = Query("open", description="open, closed, or all"),
                 rule: str | None = None, person_id: str | None = None,
                 g: Grant = Depends(needs("findings:read"))) -> dict[str, Any]:
        from rules.findings import iter_findings

        if state not in ("open", "closed", "all", None):
            raise HTTPException(422, "state is open, closed or all")
        with db().connect() as conn:
            rows = list(iter_findings(conn, state=None if state in ("all", None) else state,
                                      rules=[rule] if rule else None, person_id=person_id, after=after, limit=limit))
        logged(g, "api:findings", len(rows))
        return {"data": rows, "next": rows[-1]["finding_id"] if len(rows) == limit else None}

    @app.get("/v1/findings/{finding_id}", summary="one finding")
    def finding(finding_id: str, g: Grant = Depends(needs("findings:read"))) -> dict[str, Any]:
        from rules.findings import as_dict
        from schemas.findings import Finding

        with db().connect() as conn:
            row = conn.execute(select(Finding.__table__).where(Finding.finding_id == finding_id)).first()
        if row is None:
            raise HTTPException(404, f"no finding {finding_id}")
        logged(g, "api:finding", 1)
        return as_dict(row)

    reports = settings.home / "reports"
    app.mount("/reports", StaticFiles(directory=reports, check_dir=False, html=True), name="reports")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def console() -> str:
        return _CONSOLE

    return app


_CONSOLE = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>Elder Data Hub</title></head>
<body><h1>Elder Data Hub · 养老数据汇聚</h1>
<ul>
<li><a href="reports/quality/index.html">Data quality</a> — per platform and resource: rows, quarantined,
blocked and why, each check's pass rate, the trend</li>
<li><a href="reports/findings/index.html">Subsidy findings</a> — per rule, money at risk, decisions; outreach
lists by district</li>
<li><a href="docs">The API</a> (<a href="openapi.json">OpenAPI</a>) — persons and findings, with a token</li>
</ul>
<p><small>These pages hold no personal data. Decisions: <code>hub finding decide</code>.</small></p>
</body></html>"""
