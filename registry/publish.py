"""Publishing: which registry release consumers see, rollbacks, and the staleness of the
data behind it.

Linking writes a release in one transaction (``linking.publish``), and the rules judge it;
``publish`` then makes that release the one every reader — exports, the API — uses, by
adding a ``publication`` row (the newest row is current). Readers therefore see the
previous release or the new one, never one half built, and never one whose findings are
not judged yet. ``rollback`` makes the release of an earlier publication current again (a
new row saying so); only the last ``HUB_PUBLISH_KEEP`` publications can be returned to.
Every release stays readable as history (``registry.read``).

**Staleness.** A publication records, per platform and resource, whether the data behind
it is fresh: ``stale`` when the resource's latest read failed (the platform was down) or
quality held its latest batch; either way the registry carries the last good data of that
source, and ``last_good`` says when it was read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from connectors.platforms import RESOURCES
from hub.errors import HubError
from schemas.landing import IngestBatch
from schemas.quality import QualityGate
from schemas.registry import Publication, RegistryRelease

__all__ = ["PublishError", "current_publication", "publish", "published_release", "rollback", "staleness"]


class PublishError(HubError):
    pass


def staleness(conn: Connection) -> dict[str, dict[str, Any]]:
    """Per ``platform/resource``: ``status`` (fresh or stale), ``reason``, ``last_good``
    (when its last successful read finished)."""
    b = IngestBatch.__table__.c
    g = QualityGate.__table__.c
    out: dict[str, dict[str, Any]] = {}
    latest = {(r.platform, r.resource): r for r in conn.execute(
        select(b.platform, b.resource, b.status, b.error, b.finished_at)
        .where(b.id.in_(select(func.max(b.id)).group_by(b.platform, b.resource))))}
    good = {(r[0], r[1]): r[2] for r in conn.execute(
        select(b.platform, b.resource, func.max(b.finished_at)).where(b.status == "success")
        .group_by(b.platform, b.resource))}
    gates = {(r.platform, r.resource): r for r in conn.execute(select(g.platform, g.resource, g.status, g.reason))}
    for platform, specs in RESOURCES.items():
        for spec in specs:
            key = (platform, spec.resource)
            last = latest.get(key)
            gate = gates.get(key)
            status, reason = "fresh", None
            if last is None:
                status, reason = "stale", "never read"
            elif last.status != "success":
                status, reason = "stale", f"latest read {last.status}: {(last.error or '')[:200]}"
            elif gate is not None and gate.status == "blocked":
                status, reason = "stale", f"held by quality: {(gate.reason or '')[:200]}"
            t = good.get(key)
            out[f"{platform}/{spec.resource}"] = {"status": status, "reason": reason,
                                                  "last_good": t.isoformat() if t else None}
    return out


def publish(conn: Connection, release: int | None = None, rule_run_id: int | None = None,
            note: str | None = None) -> Publication:
    """Make ``release`` (default: the newest linked) the published one."""
    if release is None:
        release = conn.execute(select(func.max(RegistryRelease.release))).scalar()
        if release is None:
            raise PublishError("nothing to publish: no registry release has been linked yet (hub link)")
    sources = staleness(conn)
    stale = any(s["status"] == "stale" for s in sources.values())
    row = conn.execute(insert(Publication).values(
        release=release, rule_run_id=rule_run_id, published_at=datetime.now(UTC), kind="publish", stale=stale,
        sources=sources, note=note).returning(Publication.id)).scalar_one()
    return _by_id(conn, row)


def _by_id(conn: Connection, pid: int) -> Any:
    return conn.execute(select(Publication.__table__).where(Publication.id == pid)).one()


def current_publication(conn: Connection) -> Any:
    """The current publication (a row of ``publication``), or None."""
    return conn.execute(select(Publication.__table__).order_by(Publication.id.desc()).limit(1)).first()


def published_release(conn: Connection) -> int | None:
    """The release consumers see: the current publication's, or — before anything was
    published — the newest linked release."""
    cur = current_publication(conn)
    if cur is not None:
        return cur.release
    return conn.execute(select(func.max(RegistryRelease.release))).scalar()


def rollback(conn: Connection, keep: int, to_release: int | None = None, note: str | None = None) -> Any:
    """Publish again the release of one of the last ``keep`` publications: by default the
    one before the current."""
    rows = conn.execute(select(Publication.__table__).where(Publication.kind == "publish")
                        .order_by(Publication.id.desc()).limit(keep)).all()
    cur = current_publication(conn)
    if cur is None or not rows:
        raise PublishError("nothing has been published yet: there is nothing to roll back")
    candidates = [r for r in rows if r.release != cur.release]
    if to_release is not None:
        candidates = [r for r in rows if r.release == to_release]
        if not candidates:
            kept = ", ".join(str(r.release) for r in rows)
            raise PublishError(f"release {to_release} is not among the last {keep} publications ({kept}); "
                               "raise HUB_PUBLISH_KEEP or pick one of those")
    if not candidates:
        raise PublishError("no earlier publication to roll back to")
    target = candidates[0]
    pid = conn.execute(insert(Publication).values(
        release=target.release, rule_run_id=target.rule_run_id, published_at=datetime.now(UTC), kind="rollback",
        stale=target.stale, sources=target.sources,
        note=note or f"rolled back from release {cur.release} to release {target.release}")
        .returning(Publication.id)).scalar_one()
    return _by_id(conn, pid)
