"""Day 2: copy SRC to DST with changes appended (new versions, tombstones, new persons, planted cases).
Usage: python mutate.py [--src data] [--dst data2] [--now ISO]  -> DST (+ truth.json), prints what changed.

The day-2 clock is --now (default common.DEFAULT_NOW_DAY2, two hours after gen.py's
default), never the wall clock. It must fall on day 1's as-of date: the truth's elders
(registry_scope) are not judged again.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import sys

from common import (
    DEFAULT_NOW_DAY2,
    SH,
    UTC,
    iso_sh,
    iso_utc,
    make_id,
    parse_now,
    ps_time,
    wrong_check,
)

ap = argparse.ArgumentParser()
ap.add_argument("--src", default="data", help="day 1 (gen.py's --out)")
ap.add_argument("--dst", default="data2", help="written afresh")
ap.add_argument("--now", type=parse_now, default=DEFAULT_NOW_DAY2,
                help=f"the day-2 clock: ISO date-time with offset (default {DEFAULT_NOW_DAY2})")
args = ap.parse_args()


def read_json(path):
    with open(path) as fh:
        return json.load(fh)


def write_json(obj, path):
    with open(path, "w") as fh:
        json.dump(obj, fh, ensure_ascii=False)


rng = random.Random(99)
SRC, DST = args.src, args.dst
T = read_json(f"{SRC}/truth.json")
NOW = args.now
ASOF = NOW.astimezone(SH).date()
if ASOF.isoformat() != T["as_of"]:
    sys.exit(f"mutate.py: --now {NOW.astimezone(SH).isoformat()} is not on day 1's as-of date {T['as_of']}; "
             "who is 60+ would change, and the truth does not judge it again")
shutil.rmtree(DST, ignore_errors=True)
shutil.copytree(SRC, DST)
P = T["persons"]


def load(k):
    return read_json(f"{DST}/{k}.json")


D = {k: load(k) for k in ["civil_affairs__elders", "public_security__residents", "medical_insurance__insured-persons",
                          "health__death-certificates", "property_mgmt__service-orders", "civil_affairs__meal-records"]}
IDF = {"civil_affairs__elders": "record_id", "public_security__residents": "rid",
       "medical_insurance__insured-persons": "recordId", "health__death-certificates": "record_id",
       "property_mgmt__service-orders": "order_id", "civil_affairs__meal-records": "record_id"}
TSF = {"civil_affairs__elders": ("updated_at", iso_sh), "public_security__residents": ("gxsj", ps_time),
       "medical_insurance__insured-persons": ("updtTime", iso_utc),
       "health__death-certificates": ("updated_at", lambda t: iso_sh(t, True)),
       "property_mgmt__service-orders": ("modified_at", lambda t: iso_sh(t, True)),
       "civil_affairs__meal-records": ("updated_at", iso_sh)}
recs = {(r["platform"], r["resource"], r["record_id"]): r for r in T["records"]}
log = []


def latest(k, rid):
    out = None
    for v in D[k]:
        if v["rec"][IDF[k]] == rid:
            out = v["rec"]
    return dict(out)


def put(k, rec, t):
    f, fmt = TSF[k]
    rec = dict(rec)
    rec[f] = fmt(t)
    D[k].append({"t": t.timestamp(), "rec": rec})


def t_now(back=0):
    return NOW - dt.timedelta(seconds=back + rng.randint(30, 400))


def recs_of(pid, res=None):
    return [r for r in T["records"] if r["pid"] == pid and (res is None or r["resource"] == res) and not r["deleted"]]


# 1. 20 civil-affairs elders get a new phone
ca = [r for r in T["records"] if r["resource"] == "elders" and r["pid"] and not r["deleted"]]
for r in rng.sample(ca, 20):
    rec = latest("civil_affairs__elders", r["record_id"])
    rec["phone"] = "139" + f"{rng.randint(0, 10**8):08d}"
    put("civil_affairs__elders", rec, t_now())
log.append("20 civil_affairs/elders new versions (phone)")

# 2. tombstone one CA elder record of a person who has other records
cand = [r for r in rng.sample(ca, 50) if len(recs_of(r["pid"])) >= 3]
r = cand[0]
rec = latest("civil_affairs__elders", r["record_id"])
rec["deleted"] = True
put("civil_affairs__elders", rec, t_now())
recs[("civil_affairs", "elders", r["record_id"])]["deleted"] = True
log.append(f"tombstone civil_affairs/elders {r['record_id']} (person {r['pid']})")
TOMB_CA = r["record_id"]

# 3. a late update: updated_at 4 minutes before the newest CA-elder time delivered on day 1
tmax = max(v["t"] for v in read_json(f"{SRC}/civil_affairs__elders.json"))
r2 = cand[1]
rec = latest("civil_affairs__elders", r2["record_id"])
rec["ability_level"] = 4
rec["phone"] = "13700000000"
put("civil_affairs__elders", rec, dt.datetime.fromtimestamp(tmax - 240, UTC))
log.append(f"late update civil_affairs/elders {r2['record_id']} ability_level=4 at day-1 max - 240 s")
LATE = r2["record_id"]

# 4. never-seen tombstone
put("civil_affairs__elders", {"record_id": "GONE-DAY2-001", "deleted": True}, t_now())
T["records"].append({"platform": "civil_affairs", "resource": "elders", "record_id": "GONE-DAY2-001", "pid": None,
                     "deleted": True, "tags": ["never_seen_tombstone"], "versions": 1})

# 5. re-sent identical old versions (PS gets none: exports hold latest state)
for v in rng.sample(read_json(f"{SRC}/medical_insurance__insured-persons.json"), 5):
    D["medical_insurance__insured-persons"].append(v)  # old time: below watermark, only if overlapping
log.append("5 MI versions re-sent with their old update times (invisible to an incremental read unless in overlap)")

# 6. an alive elder dies: PS update + death certificate
alive = [pid for pid, p in P.items() if p["kind"] == "E_alive" and recs_of(pid, "residents")
         and not recs_of(pid, "residents")[0]["tags"]]
dpid = rng.choice(alive)
dday = ASOF - dt.timedelta(days=2)
for r in recs_of(dpid, "residents"):
    rec = latest("public_security__residents", r["record_id"])
    rec["hkzt"], rec["swrq"] = "1", dday.strftime("%Y%m%d")
    put("public_security__residents", rec, t_now())
P[dpid]["status"], P[dpid]["death"] = "deceased", dday.isoformat()
log.append(f"{dpid} died {dday} (PS hkzt=1)")

# 7. correct the broken PS number of a sole-record person (id_check) -> gets a number
fix = [r for r in T["records"] if r["resource"] == "residents" and r["tags"] == ["id_check"]
       and len(recs_of(r["pid"])) == 1]
FIXED = []
for r in fix[:2]:
    rec = latest("public_security__residents", r["record_id"])
    rec["sfzh"] = P[r["pid"]]["id"]
    put("public_security__residents", rec, t_now())
    FIXED.append(r["pid"])
log.append(f"PS number corrected for sole-record persons {FIXED}")

# 8. the split person of day 1 (CA record, empty number) gets its number -> persons should merge
SPLIT = "T00111"
for r in recs_of(SPLIT, "elders"):
    rec = latest("civil_affairs__elders", r["record_id"])
    rec["id_card_no"] = P[SPLIT]["id"]
    rec["birth_date"] = P[SPLIT]["birth"]
    put("civil_affairs__elders", rec, t_now())
log.append(f"{SPLIT}: CA record gets its number (day-1 split should merge)")

# 9. void a linked property order
po = [r for r in T["records"] if r["resource"] == "service-orders" and r["pid"] and not r["deleted"]
      and P[r["pid"]]["registry_scope"] and not r["tags"]]
vo = rng.choice(po)
rec = latest("property_mgmt__service-orders", vo["record_id"])
rec["is_void"] = True
put("property_mgmt__service-orders", rec, t_now())
recs[("property_mgmt", "service-orders", vo["record_id"])]["deleted"] = True
log.append(f"void property order {vo['record_id']}")

# 10. new persons
n = len(P)


def newp(kind, birth, gender, name, district, **kw):
    global n
    n += 1
    pid = f"T{n:05d}"
    seq = rng.randint(100, 998)
    if (seq % 2 == 1) != (gender == "M"):
        seq += 1
    p = {"pid": pid, "kind": kind, "gender": gender, "birth": birth.isoformat(), "area": district,
         "district": district, "name": name, "id": make_id(district, birth, seq), "phone": "136" + f"{rng.randint(0, 10**8):08d}",
         "death": None, "moved": None, "status": "alive", "mz": "01", "minority": False,
         "flat": {"district": district, "community": "海晏路小区", "building": "7", "unit": "2", "room": "502"},
         "registry_scope": kind != "Y_new", "elder": kind != "Y_new"}
    p.update(kw)
    P[pid] = p
    return p


def add_rec(k, rec, pid, tags=()):
    plat, res = k.split("__")
    put(k, rec, t_now())
    T["records"].append({"platform": plat, "resource": res, "record_id": rec[IDF[k]], "pid": pid,
                         "deleted": False, "tags": list(tags), "versions": 1})


def ps_rec(p, rid, sfzh=None, csrq=None, xb=None, hkzt="0", swrq=""):
    return {"rid": rid, "sfzh": sfzh or p["id"], "xm": p["name"], "xb": xb or ("1" if p["gender"] == "M" else "2"),
            "csrq": csrq or p["birth"].replace("-", ""), "mz": "01", "hjdz": "山东省青岛市市南区海晏路小区7号楼2单元502户",
            "xzqh": p["district"], "hkzt": hkzt, "swrq": swrq}


# 10a plain new elder on four platforms
a = newp("E_alive", dt.date(1954, 3, 9), "F", "鞠桂芝", "370202")
add_rec("public_security__residents", ps_rec(a, "R9000000001"), a["pid"])
add_rec("civil_affairs__elders", {"record_id": "MZ9000001", "id_card_no": a["id"], "name": a["name"], "gender": "女",
                                  "birth_date": a["birth"], "district_code": "370202", "town": "八大峡街道",
                                  "village": "海晏路小区", "hukou_type": "urban", "phone": a["phone"],
                                  "address": "市南区海晏路小区7-2-502", "assistance_type": "dibao", "left_behind": False,
                                  "lives_alone": True, "lost_only_child": False, "ability_level": 2,
                                  "ability_assessed_on": "2026-10-01", "deleted": False}, a["pid"])
add_rec("medical_insurance__insured-persons", {"recordId": "3702009000001", "certno": a["id"], "psnName": a["name"],
                                               "gend": "2", "brdy": a["birth"].replace("-", ""), "insutype": "390",
                                               "admdvs": "370202", "valiFlag": "1"}, a["pid"])
add_rec("property_mgmt__service-orders", {"order_id": "WY90000001", "company_credit_code": "913702000000000001",
                                          "company_name": "青岛海晏物业服务有限公司", "community_name": "海晏路小区",
                                          "building": "7号楼", "room": "502", "resident_name": a["name"],
                                          "resident_phone": a["phone"], "resident_id_masked": a["id"][:6] + "********" + a["id"][-4:],
                                          "resident_birth_year": 1954, "service_type": "shopping",
                                          "service_date": (ASOF - dt.timedelta(days=1)).isoformat(), "price": "20",
                                          "subsidy_claimed": True, "subsidy_amount": "10", "is_void": False}, a["pid"])
log.append(f"new elder {a['pid']} on PS, CA, MI, property")

# 10b planted: real elder (60 by the number) whose only PS record's csrq is one year later (59)
b_birth = ASOF.replace(year=ASOF.year - 60) - dt.timedelta(days=100)
b = newp("E_alive", b_birth, "M", "逄志远", "370213")
add_rec("public_security__residents", ps_rec(b, "R9000000002", csrq=b_birth.replace(year=b_birth.year + 1).strftime("%Y%m%d")),
        b["pid"], ["b_contra"])
add_rec("medical_insurance__insured-persons", {"recordId": "3702009000002", "certno": b["id"], "psnName": b["name"],
                                               "gend": "1", "brdy": b["birth"].replace("-", ""), "insutype": "310",
                                               "admdvs": "370213", "valiFlag": "1"}, b["pid"])
log.append(f"planted {b['pid']}: aged 60 by number, PS csrq says 59")

# 10c planted: PS lags a death, PS number has a wrong check digit, MI & death certificate carry the right number
c_birth = dt.date(1941, 11, 23)
c = newp("E_dead", c_birth, "M", "栾德顺", "370214", death=(ASOF - dt.timedelta(days=20)).isoformat(), status="deceased")
add_rec("public_security__residents", ps_rec(c, "R9000000003", sfzh=wrong_check(c["id"], rng)), c["pid"], ["id_check", "ps_death_lag"])
add_rec("medical_insurance__insured-persons", {"recordId": "3702009000003", "certno": c["id"], "psnName": c["name"],
                                               "gend": "1", "brdy": "19411123", "insutype": "390", "admdvs": "370214",
                                               "valiFlag": "1"}, c["pid"])
add_rec("health__death-certificates", {"record_id": "DC-2026-90000003", "id_card_no": c["id"], "name": c["name"],
                                       "date_of_death": c["death"], "issued_on": c["death"], "deleted": False}, c["pid"])
log.append(f"planted {c['pid']}: PS lags death + PS number bad check digit; MI + death certificate carry right number")

# 10d a new non-elder property customer in the new elder's flat (her son), same surname
s = newp("Y_new", dt.date(1983, 5, 1), "M", "鞠文杰", "370202", registry_scope=False, elder=False)
add_rec("property_mgmt__service-orders", {"order_id": "WY90000002", "company_credit_code": "913702000000000001",
                                          "company_name": "青岛海晏物业服务有限公司", "community_name": "海晏路小区",
                                          "building": "7", "room": "502", "resident_name": s["name"],
                                          "resident_phone": a["phone"], "resident_id_masked": "",
                                          "resident_birth_year": None, "service_type": "repair",
                                          "service_date": (ASOF - dt.timedelta(days=1)).isoformat(), "price": "45.00",
                                          "subsidy_claimed": False, "subsidy_amount": "0", "is_void": False}, s["pid"])
log.append(f"new non-elder {s['pid']} order in the new elder's flat, her phone, no masked id/birth year")

for k, vs in D.items():
    vs.sort(key=lambda v: v["t"])
    write_json(vs, f"{DST}/{k}.json")
T["day2"] = {"log": log, "tomb_ca": TOMB_CA, "late": LATE, "died": dpid, "fixed": FIXED, "split": SPLIT,
             "void": vo["record_id"], "new": [a["pid"], b["pid"], c["pid"], s["pid"]]}
write_json(T, f"{DST}/truth.json")
print("\n".join(log))
