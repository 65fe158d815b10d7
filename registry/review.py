"""The stewards' review queue of uncertain matches: both records side by side, the score
explained field by field, and the steward's must-link / cannot-link decision, which every
later linking run respects (``linking.run`` reads the active decisions).

A decision names the two records (the uncertain one and a record of the candidate
person), so it outlives the person ids and the queue: the next run applies it however the
persons are numbered by then.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hub.errors import HubError
from registry.read import mask_person
from schemas.registry import LinkDecision, LinkReview
from schemas.staging import accepted_table

__all__ = ["DECISIONS", "ReviewError", "decide_review", "open_reviews"]

DECISIONS = ("must_link", "cannot_link")

#: What a steward compares, per resource: (shown as, column of the accepted table).
_SHOWN: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("public_security", "residents"): (("id_card_no", "id_card_no"), ("name", "name"), ("gender", "gender"),
                                       ("birth_date", "birth_date"), ("district_code", "district_code"),
                                       ("address", "address")),
    ("civil_affairs", "elders"): (("id_card_no", "id_card_no"), ("name", "name"), ("gender", "gender"),
                                  ("birth_date", "birth_date"), ("district_code", "district_code"),
                                  ("phone", "phone"), ("address", "address")),
    ("health", "family-doctor-contracts"): (("id_card_no", "id_card_no"), ("name", "name"), ("gender", "gender"),
                                            ("birth_date", "birth_date")),
    ("health", "death-certificates"): (("id_card_no", "id_card_no"), ("name", "name"),
                                       ("date_of_death", "date_of_death")),
    ("medical_insurance", "insured-persons"): (("id_card_no", "id_card_no"), ("name", "name"), ("gender", "gender"),
                                               ("birth_date", "birth_date"), ("district_code", "district_code")),
    ("medical_insurance", "ltc-enrolments"): (("id_card_no", "id_card_no"),),
    ("property_mgmt", "service-orders"): (("name", "resident_name"), ("phone", "resident_phone"),
                                          ("id_prefix", "resident_id_prefix"), ("id_suffix", "resident_id_suffix"),
                                          ("birth_year", "resident_birth_year"), ("community", "community_name"),
                                          ("building", "building"), ("room", "room")),
}


class ReviewError(HubError):
    """A review item that does not exist or is no longer open, or a bad decision."""


def _record(conn: Connection, platform: str, resource: str, record_id: str, pii: bool) -> dict[str, Any]:
    shown = _SHOWN.get((platform, resource), ())
    t = accepted_table(platform, resource)
    row = conn.execute(select(*(t.c[col] for _, col in shown)).where(t.c.record_id == record_id)).first()
    out: dict[str, Any] = {"platform": platform, "resource": resource, "record_id": record_id}
    if row is not None:
        out.update({name: None if v is None else str(v) for (name, _), v in zip(shown, row, strict=True)})
    if pii:
        return out
    # beside the candidate's birth date, an order's masked number (first 6 and last 4)
    # would give the whole number back; its flat is an address
    for name in ("id_suffix", "building", "room"):
        if out.get(name):
            out[name] = "*" * len(out[name])
    return mask_person(out)


def open_reviews(conn: Connection, *, pii: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
    """The open review items, likeliest first: the record, the candidate person and one
    of its records side by side (masked unless ``pii``), the probability, and what each
    comparison contributed."""
    lr = LinkReview.__table__.c
    q = select(LinkReview.__table__).where(lr.status == "open").order_by(lr.probability.desc(), lr.id)
    if limit:
        q = q.limit(limit)
    out = []
    for r in conn.execute(q):
        out.append({"review_id": r.id, "probability": r.probability, "person_id": r.person_id,
                    "record": _record(conn, r.platform, r.resource, r.record_id, pii),
                    "candidate": _record(conn, r.other_platform, r.other_resource, r.other_record_id, pii),
                    "explanation": r.explanation or []})
    return out


def decide_review(conn: Connection, review_id: int, decision: str, steward: str, reason: str | None = None) -> None:
    """Record a steward's decision on review item ``review_id`` (inside the caller's
    transaction): it replaces any earlier decision on the same two records, and the
    item — with the other candidates of the same record, when it is a must-link — leaves
    the queue. The next ``hub link`` applies it."""
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
    if not steward or not steward.strip():
        raise ReviewError("a decision needs the steward who made it (--steward)")
    lr = LinkReview.__table__.c
    item = conn.execute(select(LinkReview.__table__).where(lr.id == review_id)).first()
    if item is None:
        raise ReviewError(f"no review item {review_id}; `hub review list` shows the open ones")
    if item.status != "open":
        raise ReviewError(f"review item {review_id} is {item.status}, not open: a later linking run replaced it; "
                          "`hub review list` shows the open ones")
    d = LinkDecision.__table__.c
    pair = ((d.platform == item.platform) & (d.resource == item.resource) & (d.record_id == item.record_id)
            & (d.other_platform == item.other_platform) & (d.other_resource == item.other_resource)
            & (d.other_record_id == item.other_record_id))
    conn.execute(update(LinkDecision).where(pair, d.active.is_(True)).values(active=False))
    conn.execute(insert(LinkDecision).values(
        platform=item.platform, resource=item.resource, record_id=item.record_id,
        other_platform=item.other_platform, other_resource=item.other_resource, other_record_id=item.other_record_id,
        decision=decision, steward=steward.strip(), reason=reason, decided_at=datetime.now(UTC), active=True))
    same = (lr.platform == item.platform) & (lr.resource == item.resource) & (lr.record_id == item.record_id)
    decided = same & (lr.status == "open") if decision == "must_link" else lr.id == review_id
    conn.execute(update(LinkReview).where(decided).values(status="decided"))
