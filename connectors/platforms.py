"""The five platforms as configuration: how each authenticates, pages and names things.

Everything a platform shares with the others lives in ``auth``, ``paginators``,
``export`` and ``http``; this module only says which pieces each platform uses and how
its records are keyed (record id, update time, tombstone flag).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import requests

from connectors.auth import ApiKeyHeader, HmacSignature, OAuth2ClientCredentials
from connectors.connection import PlatformConnection
from connectors.errors import ConnectionNotConfigured
from connectors.export import BulkExport, date_header
from connectors.http import Pacer, make_session, raise_for_platform
from connectors.paginators import CursorPaginator, KeysetPagePaginator, Page
from landing.normalize import format_timestamp, parse_bool, parse_ps_timestamp, parse_timestamp

__all__ = ["PLATFORMS", "RESOURCES", "ClientOptions", "PlatformClient", "ResourceSpec", "platform_auth"]


#: The longest record id the hub keys (the landing and staging tables' ``record_id``).
RECORD_ID_LENGTH = 128


@dataclass(frozen=True)
class ResourceSpec:
    """How one resource's records are keyed on the wire."""

    platform: str
    resource: str
    path: str
    id_field: str = "record_id"
    updated_field: str = "updated_at"
    tombstone_field: str = "deleted"
    tombstone_value: Any = True
    time_format: str = "iso"  # "iso" (ISO-8601 with offset) or "ps" (YYYYMMDDHHMMSS local)

    def parse_time(self, value: Any) -> datetime:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{self.updated_field} missing")
        return parse_ps_timestamp(value) if self.time_format == "ps" else parse_timestamp(value)

    def updated(self, rec: dict[str, Any]) -> datetime:
        return self.parse_time(rec.get(self.updated_field))

    def record_id(self, rec: dict[str, Any]) -> str:
        rid = rec.get(self.id_field)
        if rid is None or (isinstance(rid, str) and not rid.strip()) or isinstance(rid, (dict, list, bool)):
            raise ValueError(f"{self.id_field} missing")
        rid = str(rid).strip()
        if len(rid) > RECORD_ID_LENGTH:
            raise ValueError(f"{self.id_field} longer than {RECORD_ID_LENGTH} characters")
        return rid

    def is_tombstone(self, rec: dict[str, Any]) -> bool:
        """Whether the record is withdrawn. The contract names the flags but not every
        spelling: a boolean flag may come as ``true``, ``1`` or ``"true"``/``"1"``, and
        ``valiFlag`` as ``"0"`` or ``0``."""
        value = rec.get(self.tombstone_field)
        if value is None:
            return False
        if isinstance(self.tombstone_value, bool):
            return parse_bool(value) is self.tombstone_value
        return str(value).strip() == str(self.tombstone_value)


def _civil(resource: str) -> ResourceSpec:
    return ResourceSpec("civil_affairs", resource, f"/v1/{resource}")


def _health(resource: str) -> ResourceSpec:
    return ResourceSpec("health", resource, f"/v1/{resource}")


def _mi(resource: str) -> ResourceSpec:
    return ResourceSpec("medical_insurance", resource, f"/v1/{resource}", id_field="recordId",
                        updated_field="updtTime", tombstone_field="valiFlag", tombstone_value="0")


RESOURCES: dict[str, list[ResourceSpec]] = {
    "civil_affairs": [_civil(r) for r in ("elders", "benefits", "card-deposits", "meal-records",
                                          "subsidy-payments", "time-bank")],
    "health": [_health(r) for r in ("family-doctor-contracts", "home-medical-services",
                                    "death-certificates")],
    "medical_insurance": [_mi(r) for r in ("insured-persons", "ltc-enrolments", "ltc-payments")],
    "public_security": [ResourceSpec("public_security", "residents", "/v1/exports", id_field="rid",
                                     updated_field="gxsj", tombstone_field="", tombstone_value=None,
                                     time_format="ps")],
    "property_mgmt": [ResourceSpec("property_mgmt", "service-orders", "/api/service-orders",
                                   id_field="order_id", updated_field="modified_at",
                                   tombstone_field="is_void")],
}
PLATFORMS = tuple(RESOURCES)


@dataclass(frozen=True)
class ClientOptions:
    page_limit: int = 1000
    property_page_size: int = 500
    requests_per_second: float | None = 20.0
    retries: int = 10
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    overlap: timedelta = timedelta(minutes=5)
    download_dir: Path = Path(".hub/downloads")
    export_poll_seconds: float = 2.0
    export_timeout_seconds: float = 3600.0
    export_attempts: int = 3
    backoff: float = 0.5
    #: The pacer shared by every client reading this platform (see
    #: :class:`connectors.http.Pacer`); None paces this client alone.
    pacer: Pacer | None = field(default=None, compare=False)
    #: The credentials shared by every client reading this platform (see
    #: :func:`platform_auth`): one token for all of a platform's readers, as for one
    #: client; None: this client gets its own.
    auth: requests.auth.AuthBase | None = field(default=None, compare=False)


def platform_auth(platform: str, conn: PlatformConnection, options: ClientOptions) -> requests.auth.AuthBase:
    """How requests to ``platform`` authenticate. Thread-safe: the readers of one
    platform's resources share one (an OAuth2 token is fetched once and renewed once for
    them all, as for the one client they are to the platform)."""
    if platform in ("civil_affairs", "health", "medical_insurance"):
        token_session = make_session(retries=options.retries, rps=None, connect_timeout=options.connect_timeout,
                                     read_timeout=options.read_timeout)
        return OAuth2ClientCredentials(conn.url("/oauth/token"), conn.login or "", conn.password or "",
                                       token_session, platform)
    if platform == "public_security":
        return HmacSignature(conn.login or "", conn.password or "")
    return ApiKeyHeader(conn.password or "")


class PlatformClient:
    """A connected platform: ``pages(resource, since)`` walks one resource's changes."""

    def __init__(self, platform: str, conn: PlatformConnection, options: ClientOptions) -> None:
        if platform not in RESOURCES:
            raise ValueError(f"unknown platform {platform!r}; expected one of {PLATFORMS}")
        if not conn.password:
            raise ConnectionNotConfigured(f"connection {conn.conn_id!r} has no password (secret or key)")
        self.platform = platform
        self.conn = conn
        self.options = options
        self.session = make_session(retries=options.retries, rps=options.requests_per_second,
                                    connect_timeout=options.connect_timeout,
                                    read_timeout=options.read_timeout, backoff=options.backoff,
                                    pacer=options.pacer)
        self.session.auth = options.auth or platform_auth(platform, conn, options)
        self.specs = {s.resource: s for s in RESOURCES[platform]}

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pages(self, resource: str, since: datetime | None) -> Iterator[Page]:
        spec = self.specs[resource]
        o = self.options

        def updated_of(rec: dict[str, Any]) -> datetime | None:
            return spec.updated(rec)

        if self.platform == "public_security":
            reader: Any = BulkExport(self.platform, self.session, self.conn.base_url, resource,
                                     o.download_dir, format_timestamp, o.export_poll_seconds,
                                     o.export_timeout_seconds, o.export_attempts)
        elif self.platform == "property_mgmt":
            reader = KeysetPagePaginator(self.platform, self.session, self.conn.url(spec.path),
                                         "modified_after", o.property_page_size, format_timestamp,
                                         updated_of, date_header)
        else:
            bound = "updtTimeBegin" if self.platform == "medical_insurance" else "updated_since"
            reader = CursorPaginator(self.platform, self.session, self.conn.url(spec.path), bound,
                                     o.page_limit, format_timestamp, parse_timestamp, updated_of,
                                     o.overlap)
        return reader.pages(since)

    def catalog(self, company_credit_code: str) -> dict[str, Any] | None:
        """The company's published service catalogue, or None when the platform has none."""
        if self.platform != "property_mgmt":
            raise ValueError("only the property platform publishes catalogues")
        resp = self.session.get(self.conn.url("/api/service-catalog"),
                                params={"company_credit_code": company_credit_code})
        if resp.status_code == 404:
            return None
        raise_for_platform(self.platform, resp)
        return orjson.loads(resp.content)


