"""Platform connections, configured the Airflow way.

A connection comes from ``AIRFLOW_CONN_<ID>`` (JSON or URI form) — the same variables
Airflow reads, so the CLI and the DAGs see the same settings — or, inside an Airflow
task, from Airflow's own connection store.

``host`` carries the base URL (scheme, host, port, optional path prefix), per
PLATFORMS.md. For the URI form (``http://login:secret@127.0.0.1:8101/prefix``) the base
URL is rebuilt from scheme, host, port and path.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from connectors.errors import ConnectionNotConfigured

__all__ = ["PlatformConnection", "get_connection"]


@dataclass(frozen=True)
class PlatformConnection:
    conn_id: str
    base_url: str
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")


def _base_url(host: str | None, port: int | None, schema: str | None, conn_type: str | None) -> str:
    if not host:
        raise ValueError("the connection has no host (base URL)")
    if "://" not in host:
        scheme = "https" if (conn_type or "").lower() == "https" else "http"
        host = f"{scheme}://{host}"
    parts = urlsplit(host)
    netloc = parts.netloc
    if port and ":" not in netloc.rsplit("@", 1)[-1]:
        netloc = f"{netloc}:{port}"
    path = parts.path
    if schema and not path.strip("/"):
        path = "/" + schema.strip("/")
    return f"{parts.scheme}://{netloc}{path}".rstrip("/")


def parse_connection(conn_id: str, value: str) -> PlatformConnection:
    value = value.strip()
    if value.startswith("{"):
        data = json.loads(value)
        extra = data.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra) if extra.strip() else {}
        return PlatformConnection(
            conn_id=conn_id,
            base_url=_base_url(data.get("host"), data.get("port"), data.get("schema"), data.get("conn_type")),
            login=data.get("login"),
            password=data.get("password"),
            extra=extra,
        )
    parts = urlsplit(value)
    scheme = parts.scheme.replace("-", "_")
    if scheme not in ("http", "https"):
        scheme = "http"
    query_extra = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    host = parts.hostname or ""
    base = f"{scheme}://{host}" + (f":{parts.port}" if parts.port else "") + parts.path
    return PlatformConnection(
        conn_id=conn_id,
        base_url=base.rstrip("/"),
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        extra={k: unquote(v) for k, v in query_extra.items()},
    )


def _from_airflow(conn_id: str) -> PlatformConnection | None:
    try:
        from airflow.sdk import Connection  # only inside an Airflow worker
    except ImportError:  # pragma: no cover - airflow is a dependency, but stay optional
        return None
    try:
        conn = Connection.get(conn_id)
    except Exception:  # noqa: BLE001 - Airflow raises several types for "not found"/"no API"
        return None
    return PlatformConnection(
        conn_id=conn_id,
        base_url=_base_url(conn.host, conn.port, conn.schema, conn.conn_type),
        login=conn.login,
        password=conn.password,
        extra=conn.extra_dejson or {},
    )


def get_connection(conn_id: str, *, airflow: bool = False) -> PlatformConnection:
    """The connection ``conn_id``: from ``AIRFLOW_CONN_<ID>``, else (``airflow=True``,
    inside a task) from Airflow's connection store."""
    env = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if env:
        try:
            return parse_connection(conn_id, env)
        except (ValueError, json.JSONDecodeError) as exc:
            raise ConnectionNotConfigured(
                f"AIRFLOW_CONN_{conn_id.upper()} cannot be read ({exc}); expected JSON like "
                '{"conn_type":"http","host":"http://127.0.0.1:8101","login":"…","password":"…"}'
            ) from exc
    if airflow:
        found = _from_airflow(conn_id)
        if found:
            return found
    raise ConnectionNotConfigured(
        f"no connection {conn_id!r}: set AIRFLOW_CONN_{conn_id.upper()} "
        '(e.g. \'{"conn_type":"http","host":"http://127.0.0.1:8101","login":"hub","password":"…"}\') '
        "or add it as an Airflow connection"
    )
