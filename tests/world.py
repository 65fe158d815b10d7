"""A small hand-made world of wire records for connector and landing tests.

Written from PLATFORMS.md directly (not from the simulators' generator), so that tests
know exactly what each platform holds and what the hub must make of it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import orjson

from simulators.store import SimClock, SimStore

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 6, 1, 9, 0, 0, tzinfo=SH)

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(area: str, birth: str, seq: int) -> str:
    """A valid 18-digit ID number (GB 11643 check digit)."""
    body = f"{area}{birth}{seq:03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS)) % 11]
    return body + check


def iso(t: datetime) -> str:
    return t.astimezone(SH).isoformat(timespec="seconds")


def ps_time(t: datetime) -> str:
    return t.astimezone(SH).strftime("%Y%m%d%H%M%S")


def civil_elder(rid: str, t: datetime, *, deleted: bool = False, **over) -> dict:
    rec = {"record_id": rid, "updated_at": iso(t), "deleted": deleted,
           "id_card_no": id_number("370202", "19500101", int(rid[-3:]) if rid[-3:].isdigit() else 1),
           "name": "张三", "gender": "男", "birth_date": "1950-01-01", "district_code": "370202",
           "town": "八大湖街道", "village": "", "hukou_type": "urban", "phone": "13800000000",
           "address": "青岛市市南区", "assistance_type": None, "left_behind": False, "lives_alone": False,
           "lost_only_child": False, "ability_level": 0, "ability_assessed_on": "2024-01-05"}
    rec.update(over)
    return rec


def mi_person(rid: str, t: datetime, *, withdrawn: bool = False, **over) -> dict:
    rec = {"recordId": rid, "updtTime": iso(t), "valiFlag": "0" if withdrawn else "1",
           "certno": id_number("370203", "19480312", 21), "psnName": "李四", "gend": "1",
           "brdy": "19480312", "insutype": "390", "admdvs": "370203"}
    rec.update(over)
    return rec


def resident(rid: str, t: datetime, **over) -> dict:
    rec = {"rid": rid, "sfzh": id_number("370212", "19400228", 32), "xm": "王五", "xb": "1",
           "csrq": "19400228", "mz": "01", "hjdz": "青岛市崂山区", "xzqh": "370212", "hkzt": "0",
           "swrq": "", "gxsj": ps_time(t)}
    rec.update(over)
    return rec


def order(oid: str, t: datetime, *, void: bool = False, **over) -> dict:
    rec = {"order_id": oid, "company_credit_code": "91370202MA3C000001", "company_name": "青岛物业",
           "community_name": "海韵小区", "building": "3", "room": "101", "resident_name": "赵六",
           "resident_phone": "+86 138-0000-1111", "resident_id_masked": "370202********0011",
           "resident_birth_year": 1951, "service_type": "housekeeping", "service_date": "2024-05-30",
           "price": "45", "subsidy_claimed": True, "subsidy_amount": "10.00", "modified_at": iso(t),
           "is_void": void}
    rec.update(over)
    return rec


def meal(rid: str, t: datetime, *, seq: int = 1, **over) -> dict:
    rec = {"record_id": rid, "updated_at": iso(t), "deleted": False,
           "id_card_no": id_number("370202", "19500101", seq), "org_code": "MEAL-ORG-1",
           "district_code": "370202", "meal_date": "2024-05-31", "meal_type": "lunch", "delivered": False,
           "delivery_distance_km": "0", "subsidy_amount": "3.00", "delivery_subsidy_amount": "0"}
    rec.update(over)
    return rec


def put(store: SimStore, platform: str, resource: str, key_field: str, rec: dict,
        t: datetime, visible: datetime | None = None) -> None:
    store.log(platform, resource).append(str(rec[key_field]), t.timestamp(), orjson.dumps(rec),
                                         visible.timestamp() if visible else None)


def small_world(n: int = 30, *, finalize: bool = True) -> tuple[SimStore, SimClock]:
    """``n`` records in each of four resources (one per kind of API), all visible at T0+1d
    (``finalize=False``: more records can still be put before ``store.finalize()``)."""
    store = SimStore()
    for i in range(n):
        t = T0 + timedelta(minutes=i)
        put(store, "civil_affairs", "elders", "record_id", civil_elder(f"E{i:04d}", t), t)
        put(store, "medical_insurance", "insured-persons", "recordId", mi_person(f"M{i:04d}", t), t)
        put(store, "public_security", "residents", "rid", resident(f"R{i:04d}", t), t)
        put(store, "property_mgmt", "service-orders", "order_id", order(f"O{i:04d}", t), t)
    store.catalogs["91370202MA3C000001"] = orjson.dumps(
        {"company_credit_code": "91370202MA3C000001",
         "items": [{"service_type": "housekeeping", "description": "保洁", "price": "45.00",
                    "complaint_phone": "0532-8888-6666"}]})
    if finalize:
        store.finalize()
    return store, SimClock(T0 + timedelta(days=1))
