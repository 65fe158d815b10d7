"""Property companies' published catalogues: fetched for every company seen in orders.

The platform keeps no price history, so each distinct catalogue version fetched is kept
(``catalog_snapshot``) and the current items replace the company's staging rows.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from decimal import Decimal

import orjson
from sqlalchemy import Engine, delete, select

from connectors.platforms import PlatformClient
from landing.loader import dialect_insert
from landing.normalize import normalize_phone, parse_yuan
from schemas.landing import CatalogSnapshot
from schemas.staging import catalog_items, staging_table

__all__ = ["catalog_entry", "refresh_catalogs"]
log = logging.getLogger(__name__)


#: Money columns are NUMERIC(14, 2): a larger amount is garbage, and PostgreSQL would refuse it.
_MAX_PRICE = Decimal("1e12")


def catalog_entry(item: object) -> tuple[str, Decimal | None, str | None] | None:
    """One catalogue item as ``(service_type, price, issue)``, or None when it names no
    service. The service type is cut to its column (as the orders' is at landing, so the
    two still meet); a price that is no amount or too large to be one is None."""
    if not isinstance(item, dict) or not item.get("service_type"):
        return None
    service_type = str(item["service_type"]).strip()[:32]
    if not service_type:
        return None
    price, issue = parse_yuan(item.get("price"))
    if price is not None and abs(price) >= _MAX_PRICE:
        price, issue = None, "out_of_range"
    return service_type, price, (f"price:{issue}" if issue and issue != "empty" else None)


def refresh_catalogs(engine: Engine, client: PlatformClient, batch_id: int) -> int:
    orders = staging_table("property_mgmt", "service-orders")
    with engine.connect() as conn:
        codes = [r[0] for r in conn.execute(select(orders.c.company_credit_code).where(
            orders.c.company_credit_code.is_not(None)).distinct())]
    snap = CatalogSnapshot.__table__
    fetched = 0
    for code in codes:
        body = client.catalog(code)
        now = datetime.now(UTC)
        with engine.begin() as conn:
            conn.execute(delete(catalog_items).where(catalog_items.c.company_credit_code == code))
            if body is None:
                continue
            payload = orjson.dumps(body)
            digest = hashlib.blake2b(payload, digest_size=16).hexdigest()
            conn.execute(dialect_insert(conn, snap).on_conflict_do_nothing(
                index_elements=["company_credit_code", "version_hash"]).values(
                company_credit_code=code, fetched_at=now, version_hash=digest, batch_id=batch_id,
                payload=payload.decode()))
            snap_id = conn.execute(select(snap.c.id).where(snap.c.company_credit_code == code,
                                                           snap.c.version_hash == digest)).scalar_one()
            rows = {}
            items = body.get("items") if isinstance(body, dict) else None
            for item in items if isinstance(items, list) else []:
                entry = catalog_entry(item)
                if entry is None:
                    continue
                service_type, price, issue = entry
                rows[service_type] = {
                    "company_credit_code": code, "service_type": service_type,
                    "description": item.get("description"), "price": price,
                    "complaint_phone": normalize_phone(item.get("complaint_phone")),
                    "fetched_at": now, "snapshot_id": snap_id, "issues": issue}
            if rows:
                conn.execute(catalog_items.insert(), list(rows.values()))
        fetched += 1
    log.info("property_mgmt: %d catalogues fetched for %d companies", fetched, len(codes))
    return fetched
