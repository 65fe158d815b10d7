"""Independent population + platform-record generator (seeded), written from PLATFORMS.md only.

Output: OUT/<platform>__<resource>.json  (list of versions: {"t": epoch, "rec": {...}})
        OUT/catalog.json, OUT/truth.json
Usage:  python gen.py [--seed N] [--elders N] [--now ISO] [--out DIR]

Every date comes from --now (default common.DEFAULT_NOW), never the wall clock: the same
seed, size and --now give the same files. The as-of date of the truth (who is 60+) is
--now's date in Asia/Shanghai; the server reports its clock from --now onwards, so the
hub's as-of date is the same. --now must be after 2026-09-01 (some resources have fixed
start dates in 2025-2026).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
from collections import Counter, defaultdict

import zhconv
from common import (
    CURRENT,
    DEFAULT_NOW,
    DNAME,
    RETIRED,
    SH,
    age_on,
    fullwidth,
    iso_sh,
    iso_utc,
    make_id,
    parse_now,
    ps_time,
    to_legacy15,
    transpose,
    wrong_check,
)
from faker import Faker
from pypinyin import lazy_pinyin

ap = argparse.ArgumentParser()
ap.add_argument("--seed", type=int, default=20261207)
ap.add_argument("--elders", type=int, default=3400)
ap.add_argument("--out", default="data")
ap.add_argument("--now", type=parse_now, default=DEFAULT_NOW,
                help=f"the data's clock: ISO date-time with offset (default {DEFAULT_NOW})")
args = ap.parse_args()

rng = random.Random(args.seed)
fk = Faker("zh_CN")
fk.seed_instance(args.seed)

NOW = args.now
ASOF = NOW.astimezone(SH).date()
T0 = dt.datetime(2025, 1, 1, tzinfo=SH)
T1 = NOW - dt.timedelta(hours=3)


def rand_time(a=T0, b=T1):
    return a + dt.timedelta(seconds=rng.randint(0, int((b - a).total_seconds())))


def rdate(a: dt.date, b: dt.date) -> dt.date:
    return a + dt.timedelta(days=rng.randint(0, (b - a).days))


def years_ago(n: int, on: dt.date = ASOF) -> dt.date:
    try:
        return on.replace(year=on.year - n)
    except ValueError:
        return on.replace(year=on.year - n, day=28)


# ------------------------------------------------------------------ names
SURN = ("王" * 14 + "李" * 10 + "张" * 10 + "刘" * 8 + "于" * 6 + "孙" * 6 + "姜" * 5 + "杨" * 5 + "赵" * 5 +
        "陈" * 5 + "徐" * 4 + "高" * 4 + "宋" * 3 + "丁" * 3 + "曲" * 2 + "隋" * 2 + "臧" * 2 + "纪" * 2 +
        "薛" * 2 + "郭" * 3 + "马" * 3 + "周" * 3 + "吴" * 3 + "黄" * 2 + "林" * 2 + "韩" * 2 + "董" * 2 +
        "鞠" + "栾" + "逄" + "修" + "崔" * 2 + "邢" + "矫" + "衣" + "蓝" + "钟" + "葛" * 2 + "冷" + "匡")
GM = ["建国", "国庆", "志强", "德胜", "福生", "长春", "振华", "学文", "玉山", "明德", "洪涛", "树林", "宝山", "金福",
      "永刚", "春生", "德顺", "忠诚", "广才", "守义", "立新", "胜利", "爱民", "文斌", "庆华", "兆祥", "培东", "世杰",
      "军", "强", "刚", "勇", "伟", "斌", "华", "平", "明", "杰", "涛", "海", "峰", "成", "林", "东", "祥", "贵"]
GF = ["秀英", "桂兰", "玉兰", "淑珍", "凤英", "秀兰", "桂英", "淑兰", "玉珍", "翠花", "桂芳", "玉梅", "秀珍", "凤兰",
      "素芬", "美华", "丽华", "淑华", "金凤", "玉芝", "春梅", "秀云", "兰英", "月娥", "瑞芳", "爱华", "慧敏", "红霞",
      "英", "兰", "珍", "芳", "梅", "娟", "霞", "红", "萍", "敏", "静", "燕", "琴", "云", "华", "玲", "莲", "菊"]
MINOR_M = ["买买提", "艾力", "吐尔逊", "阿不都", "努尔", "伊力哈木", "热合曼", "巴特尔"]
MINOR_F = ["阿依古丽", "古丽", "帕提古丽", "热娜", "米娜", "其其格", "萨仁"]
MINOR_2 = ["吐尔逊", "艾买提", "阿布拉", "买合木提", "司马义", "朝鲁", "额尔敦"]

# homophone pool for the property platform's typos
POOL = set("".join(GM + GF)) | set("王李张刘于孙姜杨赵陈徐高宋丁曲隋臧纪薛郭马周吴黄林韩董崔葛" +
                                   "英应鹰莺樱盈迎营颖影映秀绣袖锈秀兰蓝岚澜栏拦桂贵柜跪玉育遇誉欲芳方放仿坊淑书舒殊叔珍真针贞震"
                                   "凤峰锋丰风枫封梅美媚妹玫霞夏侠峡虾国果郭锅建见健剑件强墙蔷华化话滑花明名鸣铭平评萍瓶屏"
                                   "军君均俊峻刚钢纲岗港勇永泳涌伟玮维卫为斌彬滨宾杰洁捷节海还孩涛桃陶淘林琳临邻麟东冬栋懂动"
                                   "成城程诚承祥翔详想相贵桂生声升胜圣德得春纯志智治芝枝之知红虹鸿洪宏云芸运韵燕艳雁彦敏民闽悯"
                                   "静敬镜晶菊局莲联廉连珍琴勤芹秦")
PY = defaultdict(list)
for ch in sorted(POOL):
    PY[lazy_pinyin(ch)[0]].append(ch)


def homophone(name: str) -> str | None:
    idx = list(range(1, len(name))) if len(name) > 1 else [0]
    rng.shuffle(idx)
    for i in idx:
        ch = name[i]
        alts = [c for c in PY.get(lazy_pinyin(ch)[0], []) if c != ch]
        if alts:
            return name[:i] + rng.choice(alts) + name[i + 1:]
    return None


def make_name(gender: str, minority=False, surname=None) -> str:
    if minority:
        return rng.choice(MINOR_M if gender == "M" else MINOR_F) + "·" + rng.choice(MINOR_2)
    s = surname or rng.choice(SURN)
    if rng.random() < 0.3:
        full = fk.name_male() if gender == "M" else fk.name_female()
        return s + full[1:]
    return s + rng.choice(GM if gender == "M" else GF)


# ------------------------------------------------------------------ places
COMMUNITY = {d: [f"{fk.street_name()}{rng.choice(['小区', '花园', '新村', '家园', '苑', '社区'])}" for _ in range(14)]
             for d in CURRENT}
TOWNS = {d: [f"{fk.street_name()}街道" for _ in range(4)] + [f"{fk.street_name()}镇" for _ in range(2)] for d in CURRENT}


def mobile():
    return rng.choice(["13", "15", "18", "17", "19"]) + str(rng.randint(0, 9)) + f"{rng.randint(0, 99999999):08d}"


def landline():
    return "0532" + str(rng.choice([8, 6, 5])) + f"{rng.randint(0, 9999999):07d}"


used_ids = set()


def new_id(area, birth, gender):
    while True:
        seq = rng.randint(0, 999)
        if (seq % 2 == 1) != (gender == "M"):
            seq = (seq + 1) % 1000
        i = make_id(area, birth, seq)
        if i not in used_ids:
            used_ids.add(i)
            return i


persons: dict[str, dict] = {}


def flat_for(district):
    return {"district": district, "community": rng.choice(COMMUNITY[district]),
            "building": str(rng.randint(1, 32)), "unit": str(rng.randint(1, 4)),
            "room": f"{rng.randint(1, 18)}{rng.randint(1, 4):02d}"}


def add_person(kind, birth, gender, *, flat=None, phone=None, name=None, surname=None, district=None,
               death=None, moved=None, area=None):
    pid = f"T{len(persons) + 1:05d}"
    district = district or (flat["district"] if flat else rng.choice(CURRENT))
    if area is None:
        area = district
        if birth.year < 1995 and rng.random() < 0.15:
            area = rng.choice(CURRENT)  # born elsewhere in the city
        if area == "370215" and birth.year < 1990 and rng.random() < 0.35:
            area = "370282"
        if area == "370211" and birth.year < 1990 and rng.random() < 0.35:
            area = "370284"
    minority = name is None and rng.random() < 0.015
    p = {"pid": pid, "kind": kind, "gender": gender, "birth": birth, "area": area, "district": district,
         "name": name or make_name(gender, minority, surname), "id": new_id(area, birth, gender),
         "phone": phone or (mobile() if rng.random() < 0.8 else landline()),
         "flat": flat or flat_for(district), "death": death, "moved": moved,
         "mz": "01" if not minority else rng.choice(["05", "03", "11"]), "minority": minority}
    p["status"] = "deceased" if death else ("moved_out" if moved else "alive")
    ref = death or ASOF
    p["elder"] = age_on(birth, ref) >= 60
    persons[pid] = p
    return p


def elder_birth(lo=60, hi=101):
    age = min(hi, lo + int(rng.expovariate(1 / 10.5)))
    return rdate(years_ago(age + 1) + dt.timedelta(days=1), years_ago(age))


n_el = args.elders
# alive elders (some couples)
while sum(1 for p in persons.values() if p["kind"] == "E_alive") < int(n_el * 0.88):
    g = rng.choice("MF")
    b = elder_birth()
    p = add_person("E_alive", b, g)
    if rng.random() < 0.32:  # elder spouse, same flat, maybe same landline
        sb = b + dt.timedelta(days=rng.randint(-2500, 2500))
        if age_on(sb, ASOF) >= 60:
            ph = p["phone"] if p["phone"].startswith("0532") or rng.random() < 0.3 else None
            add_person("E_alive", sb, "F" if g == "M" else "M", flat=p["flat"], phone=ph)
# twins: same birth date, flat, phone, surname; given names differ by one character
for _ in range(8):
    b = elder_birth(62, 85)
    a = add_person("E_alive", b, "M", name=None)
    s = a["name"][0]
    base = rng.choice(["建", "国", "德", "玉", "秀", "桂"])
    a["name"] = s + base + rng.choice("民华林生")
    tw = add_person("E_alive", b, rng.choice("MF"), flat=a["flat"], phone=a["phone"])
    tw["name"] = s + base + rng.choice("国英山兰")
    if tw["name"] == a["name"]:
        tw["name"] = s + base + "福"
# namesakes: same name, same birth year (half same birth date), different places
alive = [p for p in persons.values() if p["kind"] == "E_alive" and not p["minority"]]
for i in range(12):
    o = rng.choice(alive)
    b = o["birth"] if i % 2 == 0 else rdate(dt.date(o["birth"].year, 1, 1), dt.date(o["birth"].year, 12, 28))
    if age_on(b, ASOF) < 60:
        b = o["birth"]
    add_person("E_alive", b, o["gender"], name=o["name"], district=rng.choice([d for d in CURRENT if d != o["district"]]))
# deceased elders (died in last 5 years at 60+)
for _ in range(int(n_el * 0.08)):
    death = rdate(years_ago(5) + dt.timedelta(days=2), ASOF - dt.timedelta(days=3))
    age = min(100, 62 + int(rng.expovariate(1 / 12)))
    b = rdate(years_ago(age + 1, death) + dt.timedelta(days=1), years_ago(age, death))
    add_person("E_dead", b, rng.choice("MF"), death=death)
# moved-out elders
for _ in range(int(n_el * 0.03)):
    add_person("E_moved", elder_birth(60, 90), rng.choice("MF"), moved=rdate(years_ago(5), ASOF - dt.timedelta(days=5)))
# young deceased / moved out: in PS but not elders (some of them would be 60+ today)
for i in range(45):
    death = rdate(years_ago(5) + dt.timedelta(days=2), ASOF - dt.timedelta(days=3))
    age = rng.randint(40, 59) if i % 3 else 59
    b = rdate(years_ago(age + 1, death) + dt.timedelta(days=1), years_ago(age, death))
    add_person("Y_dead", b, rng.choice("MF"), death=death)
for _ in range(40):
    add_person("Y_moved", rdate(years_ago(59), years_ago(30)), rng.choice("MF"), moved=rdate(years_ago(5), ASOF))
# boundary: 60th birthday a few days before/after the as-of date
for off in (-40, -7, -2, -1, 0, 1, 2, 7, 30):
    b = years_ago(60) + dt.timedelta(days=off)
    add_person("B_elder" if off <= 0 else "B_young", b, rng.choice("MF"))
# long-gone elders: moved out >5y ago, only in medical insurance / property
for _ in range(15):
    add_person("Old_out", elder_birth(65, 90), rng.choice("MF"), moved=rdate(years_ago(12), years_ago(6)))
# young people: property orders, medical insurance; some live with elder parents
elder_alive = [p for p in persons.values() if p["kind"] == "E_alive"]
for i in range(int(n_el * 0.16)):
    b = rdate(years_ago(59), years_ago(24))
    if i < 120:
        par = rng.choice(elder_alive)
        g = rng.choice("MF")
        sur = par["name"][0] if not par["minority"] and par["gender"] == "M" else None
        add_person("Y_prop", b, g, flat=par["flat"], surname=sur,
                   phone=par["phone"] if rng.random() < 0.2 else None)
    else:
        add_person("Y_prop", b, rng.choice("MF"))

# ------------------------------------------------------------------ noise
RATE = dict(id_empty=0.012, id_legacy=0.01, id_lower=0.5, id_full=0.01, id_space=0.015, id_check=0.01,
            id_transp=0.01, nm_space=0.015, nm_full=0.01, nm_trad=0.015, g_contra=0.01, b_contra=0.012,
            b_impossible=0.003, area_retired=0.3, ph_plus=0.03, ph_dash=0.03, ph_space=0.03)


def noisy_id(p, tags, allow=True):
    i = p["id"]
    if not allow:
        return i
    r = rng.random()
    c = 0
    for k in ("id_empty", "id_legacy", "id_full", "id_space", "id_check", "id_transp"):
        c += RATE[k]
        if r < c:
            tags.append(k)
            if k == "id_empty":
                return rng.choice(["", ""])
            if k == "id_legacy":
                return to_legacy15(i)
            if k == "id_full":
                return fullwidth(i)
            if k == "id_space":
                return rng.choice([" ", "  ", "\t"]) + i + rng.choice(["", " "]) if rng.random() < 0.5 else i + "  "
            if k == "id_check":
                return wrong_check(i, rng)
            if k == "id_transp":
                return transpose(i, rng)
    if i.endswith("X") and rng.random() < RATE["id_lower"]:
        tags.append("id_lower")
        return i[:-1] + "x"
    return i


DOTS = ["·", "•", "．"]


def noisy_name(p, tags, platform=""):
    n = p["name"]
    if p["minority"]:
        d = rng.choice(DOTS)
        if d != "·":
            tags.append("nm_dot")
        n = n.replace("·", d)
    r = rng.random()
    if r < RATE["nm_space"]:
        tags.append("nm_space")
        k = rng.randint(1, max(1, len(n) - 1))
        n = rng.choice([n[:k] + " " + n[k:], " " + n, n + " "])
    elif r < RATE["nm_space"] + RATE["nm_full"]:
        tags.append("nm_full")
        n = n[0] + "\u3000" + n[1:] if not p["minority"] else n.replace("·", "\uff0e")
    elif r < RATE["nm_space"] + RATE["nm_full"] + RATE["nm_trad"]:
        t = zhconv.convert(n, "zh-tw")
        if t != n:
            tags.append("nm_trad")
            n = t
    return n


def noisy_gender(p, tags):
    if rng.random() < RATE["g_contra"]:
        tags.append("g_contra")
        return "F" if p["gender"] == "M" else "M"
    return p["gender"]


def noisy_birth(p, tags):
    """returns a date or a raw string (impossible date)"""
    b = p["birth"]
    r = rng.random()
    if r < RATE["b_impossible"]:
        tags.append("b_impossible")
        return f"{b.year}-02-{rng.choice([30, 31])}"
    if r < RATE["b_impossible"] + RATE["b_contra"]:
        tags.append("b_contra")
        k = rng.random()
        if k < 0.35 and b.day <= 12 and b.day != b.month:
            return b.replace(month=b.day, day=b.month)
        if k < 0.7:
            try:
                return b.replace(year=b.year + rng.choice([-1, 1]))
            except ValueError:
                return b + dt.timedelta(days=365)
        return b + dt.timedelta(days=rng.choice([-10, -1, 1, 3, 20]))
    return b


def noisy_district(p, tags):
    d = p["district"]
    inv = {v: k for k, v in RETIRED.items()}
    if d in inv and rng.random() < RATE["area_retired"]:
        tags.append("area_retired")
        return inv[d]
    return d


def noisy_phone(p, tags):
    ph = p["phone"]
    r = rng.random()
    mob = not ph.startswith("0532")
    if r < RATE["ph_plus"] and mob:
        tags.append("ph_plus")
        return rng.choice(["+86", "+86 ", "+86-"]) + ph
    r -= RATE["ph_plus"]
    if 0 <= r < RATE["ph_dash"]:
        tags.append("ph_dash")
        return f"{ph[:3]}-{ph[3:7]}-{ph[7:]}" if mob else f"{ph[:4]}-{ph[4:]}"
    r -= RATE["ph_dash"]
    if 0 <= r < RATE["ph_space"]:
        tags.append("ph_space")
        return f"{ph[:3]} {ph[3:7]} {ph[7:]}" if mob else f"({ph[:4]}) {ph[4:]}"
    return ph


def money(x: float) -> str:
    s = f"{x:.2f}"
    k = rng.random()
    if k < 0.3 and s.endswith(".00"):
        return s[:-3]
    if k < 0.55 and s.endswith("0"):
        return s[:-1]
    return s


# ------------------------------------------------------------------ records & versions
versions: dict[str, list] = defaultdict(list)  # key "platform/resource" -> list of (t, rec)
truth_recs = []  # record-level truth
counter = defaultdict(int)


def rid(prefix, key):
    counter[key] += 1
    return prefix.format(n=counter[key], r=rng.randint(0, 9999))


def emit(key, rec, t, *, idf, tsf, pid=None, tags=None, fmt=None, tomb=None, extra_versions=True, change=None):
    """Emit v1 and optionally later versions / re-sends / a tombstone."""
    plat, res = key.split("/")
    vs = [(t, dict(rec))]
    r = rng.random()
    if extra_versions and change and r < 0.14:  # a later update
        t2 = t + dt.timedelta(seconds=rng.randint(60, 200 * 86400))
        if t2 < T1:
            rec2 = dict(rec)
            change(rec2)
            vs.append((t2, rec2))
    if extra_versions and rng.random() < 0.03:  # re-sent identical version
        vs.append(vs[-1])
    deleted = False
    if tomb and extra_versions and rng.random() < 0.012:
        t3 = vs[-1][0] + dt.timedelta(seconds=rng.randint(60, 90 * 86400))
        if t3 < T1:
            rec3 = dict(vs[-1][1])
            tomb(rec3)
            vs.append((t3, rec3))
            deleted = True
    for tt, rr in vs:
        rr = dict(rr)
        rr[tsf] = fmt(tt)
        versions[key].append((tt.timestamp(), rr))
    if pid is not None:
        truth_recs.append({"platform": plat, "resource": res, "record_id": rec[idf], "pid": pid,
                           "deleted": deleted, "tags": tags or [], "versions": len(vs)})
    return vs


def g_cn(g):
    return "男" if g == "M" else "女"


def dstr(b):
    return b if isinstance(b, str) else b.isoformat()


def ymd(b):
    return b.replace("-", "") if isinstance(b, str) else b.strftime("%Y%m%d")


P = list(persons.values())
elders = [p for p in P if p["kind"] in ("E_alive", "E_dead", "E_moved", "B_elder")]

# ---- public security residents
for p in P:
    if p["kind"] in ("Y_prop", "B_young", "Old_out"):
        continue
    copies = 2 if rng.random() < 0.006 else 1
    for c in range(copies):
        tags = []
        if c:
            tags.append("dup_platform")
        b = noisy_birth(p, tags)
        g = noisy_gender(p, tags)
        lag = p["death"] and p["kind"] == "E_dead" and rng.random() < 0.06  # PS not yet updated
        hkzt = "1" if p["death"] and not lag else ("2" if p["moved"] else "0")
        if lag:
            tags.append("ps_death_lag")
            p["ps_lag"] = True
        d = noisy_district(p, tags)
        fl = p["flat"]
        rec = {"rid": rid("R{n:010d}", "ps"), "sfzh": noisy_id(p, tags), "xm": noisy_name(p, tags),
               "xb": "1" if g == "M" else "2", "csrq": ymd(b), "mz": p["mz"],
               "hjdz": f"山东省青岛市{DNAME[d]}{fl['community']}{fl['building']}号楼{fl['unit']}单元{fl['room']}户",
               "xzqh": d, "hkzt": hkzt, "swrq": p["death"].strftime("%Y%m%d") if hkzt == "1" else ""}
        t = rand_time()
        if p["death"] and hkzt == "1":
            t = max(t, dt.datetime.combine(p["death"], dt.time(9), SH) + dt.timedelta(days=rng.randint(1, 40)))
            t = min(t, T1 - dt.timedelta(hours=1))
        if p["moved"]:
            t = max(t, dt.datetime.combine(p["moved"], dt.time(10), SH))
            t = min(t, T1 - dt.timedelta(hours=1))

        def ch(r, p=p):
            r["hjdz"] = r["hjdz"].replace("户", "室")
        emit("public_security/residents", rec, t, idf="rid", tsf="gxsj", pid=p["pid"], tags=tags, fmt=ps_time,
             change=ch)

# ---- civil affairs elders (60+ only)
ca_elder_rec = {}
for p in elders:
    pr = {"E_alive": 0.75, "E_dead": 0.45, "E_moved": 0.3, "B_elder": 0.6}[p["kind"]]
    if rng.random() > pr:
        continue
    copies = 2 if rng.random() < 0.025 else 1
    for c in range(copies):
        tags = ["dup_platform"] if c else []
        dist = p["district"] if not c else rng.choice([x for x in CURRENT if x != p["district"]])
        b = noisy_birth(p, tags)
        g = noisy_gender(p, tags)
        fl = p["flat"]
        assist = rng.choices([None, "tekun", "dibao", "dibao_edge"], [85, 3, 8, 4])[0]
        rec = {"record_id": rid("MZ{n:07d}", "ca"), "id_card_no": noisy_id(p, tags), "name": noisy_name(p, tags),
               "gender": g_cn(g), "birth_date": dstr(b), "district_code": noisy_district(p, tags) if not c else dist,
               "town": rng.choice(TOWNS[dist]), "village": fl["community"] if rng.random() < 0.8 else None,
               "hukou_type": rng.choice(["urban", "urban", "rural"]), "phone": noisy_phone(p, tags),
               "address": f"{DNAME[dist]}{fl['community']}{fl['building']}-{fl['unit']}-{fl['room']}",
               "assistance_type": assist, "left_behind": rng.random() < 0.05, "lives_alone": rng.random() < 0.15,
               "lost_only_child": rng.random() < 0.02, "ability_level": rng.choices(range(6), [60, 15, 10, 7, 5, 3])[0],
               "ability_assessed_on": rdate(dt.date(2022, 1, 1), ASOF - dt.timedelta(days=2)).isoformat(),
               "deleted": False}
        if rng.random() < 0.003:
            rec["ability_assessed_on"] = (ASOF + dt.timedelta(days=rng.randint(30, 400))).isoformat()
            tags.append("future_date")
        ca_elder_rec.setdefault(p["pid"], rec["record_id"])

        def ch(r, p=p, tags=tags):
            r["phone"] = noisy_phone(dict(p, phone=mobile()), [])
            r["ability_level"] = min(5, r["ability_level"] + 1)
        emit("civil_affairs/elders", rec, rand_time(), idf="record_id", tsf="updated_at", pid=p["pid"], tags=tags,
             fmt=iso_sh, change=ch, tomb=lambda r: r.update(deleted=True))

# ---- health family doctor contracts (60+ only; id may be empty)
for p in elders:
    if p["kind"] == "E_moved" or rng.random() > (0.55 if p["kind"] != "E_dead" else 0.3):
        continue
    copies = 2 if rng.random() < 0.005 else 1
    for c in range(copies):
        tags = ["dup_platform"] if c else []
        idv = noisy_id(p, tags)
        if idv and rng.random() < 0.05:
            idv = ""
            tags.append("id_empty")
        g = noisy_gender(p, tags)
        b = noisy_birth(p, tags)
        signed = rdate(dt.date(2021, 1, 1), ASOF - dt.timedelta(days=10))
        rec = {"record_id": f"{rng.getrandbits(64):016x}-{counter['fdc']}", "id_card_no": idv,
               "name": noisy_name(p, tags), "gender": g_cn(g), "birth_date": dstr(b),
               "team_code": f"FDT{p['district']}{rng.randint(1, 40):03d}", "signed_on": signed.isoformat(),
               "expires_on": (signed + dt.timedelta(days=365)).isoformat(),
               "status": "valid" if signed + dt.timedelta(days=365) > ASOF else "expired", "deleted": False}
        counter["fdc"] += 1

        def ch(r):
            r["status"] = "cancelled"
        emit("health/family-doctor-contracts", rec, rand_time(), idf="record_id", tsf="updated_at", pid=p["pid"],
             tags=tags, fmt=lambda t: iso_sh(t, True), change=ch, tomb=lambda r: r.update(deleted=True))

# ---- health death certificates
for p in P:
    if p["kind"] != "E_dead" or (rng.random() > 0.85 and not p.get("ps_lag")):
        continue
    tags = []
    rec = {"record_id": f"DC-{p['death']:%Y}-{rng.randint(0, 10**8):08d}", "id_card_no": noisy_id(p, tags),
           "name": noisy_name(p, tags), "date_of_death": p["death"].isoformat(),
           "issued_on": (p["death"] + dt.timedelta(days=rng.randint(0, 3))).isoformat(), "deleted": False}
    t = min(T1, dt.datetime.combine(p["death"], dt.time(15), SH) + dt.timedelta(days=rng.randint(1, 5)))
    emit("health/death-certificates", rec, t, idf="record_id", tsf="updated_at", pid=p["pid"], tags=tags,
         fmt=lambda t: iso_sh(t, True), tomb=lambda r: r.update(deleted=True))

# ---- medical insurance insured persons (any age)
mi_people = []
for p in P:
    pr = {"Y_prop": 0.7, "B_young": 1, "Old_out": 1, "Y_moved": 0.3, "Y_dead": 0.5}.get(p["kind"], 0.85)
    if rng.random() > pr:
        continue
    mi_people.append(p)
    copies = 2 if rng.random() < 0.005 else 1
    for c in range(copies):
        tags = ["dup_platform"] if c else []
        g = noisy_gender(p, tags)
        b = noisy_birth(p, tags)
        rec = {"recordId": rid("37020{n:08d}", "mi"), "certno": noisy_id(p, tags), "psnName": noisy_name(p, tags),
               "gend": "1" if g == "M" else "2", "brdy": ymd(b),
               "insutype": rng.choice(["310", "390", "390", "310", "340"]), "admdvs": noisy_district(p, tags),
               "valiFlag": "1"}

        def ch(r):
            r["insutype"] = "390" if r["insutype"] != "390" else "310"
        emit("medical_insurance/insured-persons", rec, rand_time(), idf="recordId", tsf="updtTime", pid=p["pid"],
             tags=tags, fmt=iso_utc, change=ch, tomb=lambda r: r.update(valiFlag="0"))

# ---- medical insurance LTC enrolments
ltc = []
for p in elders:
    if p["kind"] == "E_moved" or rng.random() > (0.1 if p["kind"] != "E_dead" else 0.25):
        continue
    tags = []
    beg = rdate(dt.date(2021, 6, 1), ASOF - dt.timedelta(days=60))
    end = p["death"] if p["death"] else (beg + dt.timedelta(days=730) if rng.random() < 0.2 else None)
    inst = f"H37{rng.randint(0, 99999):05d}"
    rec = {"recordId": rid("LTC{n:06d}", "ltc"), "certno": noisy_id(p, tags),
           "disabilityLevel": rng.choice([3, 4, 4, 5, 5]), "assessedOn": (beg - dt.timedelta(days=20)).strftime("%Y%m%d"),
           "careMode": rng.choice(["institution", "home", "family_bed"]), "institutionCode": inst,
           "begnDate": beg.strftime("%Y%m%d"), "endDate": end.strftime("%Y%m%d") if end else "", "valiFlag": "1"}
    ltc.append((p, rec))
    emit("medical_insurance/ltc-enrolments", rec, rand_time(), idf="recordId", tsf="updtTime", pid=p["pid"], tags=tags,
         fmt=iso_utc, change=lambda r: r.update(disabilityLevel=5), tomb=lambda r: r.update(valiFlag="0"))

# ---- property service orders
COMPANIES = []
for _ in range(9):
    code = "91370" + f"{rng.randint(200, 285)}" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    code = code[:17] + rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY")
    COMPANIES.append((code, f"青岛{fk.company_prefix()}物业服务有限公司"))
PRICES = {"housekeeping": 60, "medicine_delivery": 15, "shopping": 20, "repair": 45, "companionship": 40,
          "safety_watch": 30}
catalog = {}
for code, _name in COMPANIES:
    catalog[code] = {"company_credit_code": code, "items": [
        {"service_type": s, "description": f"{s} 上门服务", "price": money(pr * rng.choice([1, 1, 1.2, 0.9])),
         "complaint_phone": landline()} for s, pr in PRICES.items() if rng.random() < 0.85]}
    if not catalog[code]["items"]:
        catalog[code]["items"].append({"service_type": "repair", "description": "维修", "price": "45",
                                       "complaint_phone": landline()})


def flat_company(fl):
    import zlib
    return COMPANIES[zlib.crc32((fl["community"] + fl["district"]).encode()) % len(COMPANIES)]


for p in P:
    if p["kind"] in ("E_alive", "B_elder"):
        n = rng.choice([1, 2, 3, 4, 6]) if rng.random() < 0.3 else 0
    elif p["kind"] in ("Y_prop", "B_young"):
        n = rng.randint(1, 4) if rng.random() < 0.6 or p["kind"] == "B_young" else 0
    elif p["kind"] == "Old_out":
        n = 0
    elif p["kind"] == "E_dead":
        n = rng.choice([0, 0, 0, 1, 2])
    else:
        n = 0
    fl = p["flat"]
    code, cname = flat_company(fl)
    for _ in range(n):
        tags = []
        idv = noisy_id(p, tags)
        idv_s = idv.strip()
        masked = "" if (rng.random() < 0.3 or not idv_s) else idv_s[:6] + "*" * (len(idv_s) - 10) + idv_s[-4:]
        if not masked:
            tags.append("masked_empty")
        nm = noisy_name(p, tags)
        if rng.random() < 0.07:
            h = homophone(p["name"])
            if h:
                nm = h
                tags.append("nm_homophone")
        by = p["birth"].year
        if rng.random() < 0.25:
            by = None
            tags.append("by_null")
        elif rng.random() < 0.01:
            by += rng.choice([-1, 1])
            tags.append("b_contra")
        st = rng.choice(list(PRICES))
        sdate = rdate(dt.date(2025, 1, 5), ASOF - dt.timedelta(days=1))
        if p["death"] and sdate > p["death"]:
            sdate = p["death"] - dt.timedelta(days=rng.randint(1, 200))
        sd = sdate.isoformat()
        if rng.random() < 0.004:
            sd = (ASOF + dt.timedelta(days=rng.randint(3, 90))).isoformat()
            tags.append("future_date")
        elif rng.random() < 0.003:
            sd = f"{sdate.year}-02-30"
            tags.append("impossible_date")
        price = PRICES[st] * rng.choice([1, 1, 1, 1.2, 0.9])
        claimed = p["elder"] and rng.random() < 0.6
        sub = round(price * 0.5, 2) if claimed else 0
        if rng.random() < 0.005:
            sub = -sub if sub else -10
            tags.append("neg_amount")
        t = dt.datetime.combine(sdate, dt.time(rng.randint(8, 20), rng.randint(0, 59)), SH) + dt.timedelta(hours=rng.randint(1, 60))
        t = min(t, T1 - dt.timedelta(hours=2))
        bld = fl["building"] if rng.random() < 0.6 else fl["building"] + "号楼"
        rec = {"order_id": rid("WY{n:08d}", "po"), "company_credit_code": code, "company_name": cname,
               "community_name": fl["community"], "building": bld, "room": fl["room"],
               "resident_name": nm, "resident_phone": noisy_phone(p, tags) if rng.random() > 0.04 else "",
               "resident_id_masked": masked, "resident_birth_year": by, "service_type": st, "service_date": sd,
               "price": money(price), "subsidy_claimed": claimed, "subsidy_amount": money(sub), "is_void": False}
        emit("property_mgmt/service-orders", rec, t, idf="order_id", tsf="modified_at", pid=p["pid"], tags=tags,
             fmt=lambda t: iso_sh(t, True), change=lambda r: r.update(price=money(float(r["price"]) + 5)),
             tomb=lambda r: r.update(is_void=True))

# ------------------------------------------------------------------ non-person resources
PROGS = ["CONSUMPTION_CARD_1", "CONSUMPTION_CARD_2", "HOME_CARE_PURCHASE", "FAMILY_BED", "FAMILY_BED_OPERATOR",
         "CENTRALIZED_SUPPORT", "MEAL_AID", "MEAL_DELIVERY", "TIME_BANK"]
orgs = [f"52370{rng.randint(200, 285)}MJ{rng.randint(0, 99999999):08d}"[:18] for _ in range(12)]
ca_elders = [p for p in elders if p["pid"] in ca_elder_rec and p["kind"] != "E_moved"]
for p in ca_elders:
    if rng.random() > 0.6:
        continue
    for prog in rng.sample(PROGS, rng.choice([1, 1, 2])):
        tags = []
        st = rdate(dt.date(2023, 1, 1), ASOF - dt.timedelta(days=30))
        rec = {"record_id": rid("BN{n:07d}", "bn"), "elder_record_id": ca_elder_rec[p["pid"]],
               "id_card_no": noisy_id(p, tags), "program": prog, "district_code": p["district"],
               "provider_org_code": rng.choice(orgs), "start_date": st.isoformat(),
               "end_date": (p["death"].isoformat() if p["death"] else None), "status": "ended" if p["death"] else "active",
               "chosen_policy": rng.choice(["card_subsidy", "family_bed_discount"]) if prog == "CONSUMPTION_CARD_2" else None,
               "deleted": False}
        emit("civil_affairs/benefits", rec, rand_time(), idf="record_id", tsf="updated_at", fmt=iso_sh,
             change=lambda r: r.update(status="suspended"), tomb=lambda r: r.update(deleted=True))
        if prog.startswith("CONSUMPTION_CARD"):
            card = f"QD{rng.randint(0, 10**10):010d}"
            for m in range(1, 7):
                month = (ASOF.replace(day=1) - dt.timedelta(days=31 * m)).strftime("%Y-%m")
                dep = rng.choice([100, 200, 300])
                sub = rng.choice([60, 80, 120]) if prog == "CONSUMPTION_CARD_2" else 50
                if rng.random() < 0.005:
                    sub = -sub
                rec = {"record_id": rid("CD{n:08d}", "cd"), "card_no": card, "id_card_no": noisy_id(p, []),
                       "card_type": 1 if prog.endswith("1") else 2, "month": month, "deposit_amount": money(dep),
                       "subsidy_amount": money(sub), "deleted": False}
                emit("civil_affairs/card-deposits", rec, rand_time(dt.datetime(2026, 6, 1, tzinfo=SH)), idf="record_id",
                     tsf="updated_at", fmt=iso_sh)
        if prog in ("MEAL_AID", "MEAL_DELIVERY"):
            for _ in range(rng.randint(3, 12)):
                md = rdate(dt.date(2026, 1, 1), ASOF - dt.timedelta(days=1))
                deliv = prog == "MEAL_DELIVERY"
                rec = {"record_id": rid("ML{n:08d}", "ml"), "id_card_no": noisy_id(p, []), "org_code": rng.choice(orgs),
                       "district_code": p["district"], "meal_date": md.isoformat(), "meal_type": rng.choice(["lunch", "dinner"]),
                       "delivered": deliv, "delivery_distance_km": money(rng.uniform(0.3, 6)) if deliv else None,
                       "subsidy_amount": money(3), "delivery_subsidy_amount": money(rng.choice([2, 3, 4])) if deliv else "0",
                       "deleted": False}
                if rng.random() < 0.004:
                    rec["meal_date"] = (ASOF + dt.timedelta(days=5)).isoformat()
                emit("civil_affairs/meal-records", rec, rand_time(dt.datetime(2026, 1, 2, tzinfo=SH)), idf="record_id",
                     tsf="updated_at", fmt=iso_sh, tomb=lambda r: r.update(deleted=True))
        if prog == "TIME_BANK":
            for w in range(1, 6):
                wk = (ASOF - dt.timedelta(weeks=w)).isocalendar()
                rec = {"record_id": rid("TB{n:07d}", "tb"), "id_card_no": noisy_id(p, []),
                       "week": f"{wk[0]}-W{wk[1]:02d}", "hours_granted": rng.choice([1, 2, 2, 3, 4]), "deleted": False}
                emit("civil_affairs/time-bank", rec, rand_time(dt.datetime(2026, 9, 1, tzinfo=SH)), idf="record_id",
                     tsf="updated_at", fmt=iso_sh)
        for m in range(1, 4):
            rec = {"record_id": rid("SP{n:08d}", "sp"), "id_card_no": noisy_id(p, []), "program": prog,
                   "period": (ASOF.replace(day=1) - dt.timedelta(days=31 * m)).strftime("%Y-%m"),
                   "amount": money(rng.choice([50, 80, 120, 300, 45])), "payee_org_code": rng.choice(orgs),
                   "paid_on": (ASOF.replace(day=1) - dt.timedelta(days=31 * m - 20)).isoformat(), "deleted": False}
            if rng.random() < 0.005:
                rec["amount"] = "-" + rec["amount"]
            emit("civil_affairs/subsidy-payments", rec, rand_time(dt.datetime(2026, 6, 1, tzinfo=SH)), idf="record_id",
                 tsf="updated_at", fmt=iso_sh)
for p in elders:
    if rng.random() < 0.12:
        for _ in range(rng.randint(1, 3)):
            rec = {"record_id": rid("HMS{n:07d}", "hm"), "id_card_no": noisy_id(p, []),
                   "service_type": rng.choice(["home_bed", "home_visit", "telemedicine"]),
                   "service_date": rdate(dt.date(2025, 6, 1), ASOF - dt.timedelta(days=1)).isoformat(),
                   "institution_code": f"PDY{rng.randint(0, 9999):04d}", "deleted": False}
            emit("health/home-medical-services", rec, rand_time(), idf="record_id", tsf="updated_at",
                 fmt=lambda t: iso_sh(t, True), tomb=lambda r: r.update(deleted=True))
for p, e in ltc:
    for m in range(1, rng.randint(2, 8)):
        per = (ASOF.replace(day=1) - dt.timedelta(days=31 * m))
        rec = {"recordId": rid("LP{n:08d}", "lp"), "certno": noisy_id(p, []), "period": per.strftime("%Y%m"),
               "amountFen": rng.choice([150000, 180000, 90000, 62050]) * (-1 if rng.random() < 0.005 else 1),
               "institutionCode": e["institutionCode"], "valiFlag": "1"}
        emit("medical_insurance/ltc-payments", rec, rand_time(dt.datetime(2025, 12, 1, tzinfo=SH)), idf="recordId",
             tsf="updtTime", fmt=iso_utc)

# ------------------------------------------------------------------ tombstones for never-seen ids
NEVER = {"civil_affairs/elders": ("record_id", "updated_at", iso_sh, {"deleted": True}),
         "civil_affairs/meal-records": ("record_id", "updated_at", iso_sh, {"deleted": True}),
         "health/family-doctor-contracts": ("record_id", "updated_at", lambda t: iso_sh(t, True), {"deleted": True}),
         "medical_insurance/insured-persons": ("recordId", "updtTime", iso_utc, {"valiFlag": "0"}),
         "property_mgmt/service-orders": ("order_id", "modified_at", lambda t: iso_sh(t, True), {"is_void": True})}
for key, (idf, tsf, fmt, flag) in NEVER.items():
    for i in range(6):
        rec = {idf: f"GONE-{key.split('/')[1][:3].upper()}-{i:03d}", **flag}
        t = rand_time()
        rec[tsf] = fmt(t)
        versions[key].append((t.timestamp(), rec))
        truth_recs.append({"platform": key.split("/")[0], "resource": key.split("/")[1], "record_id": rec[idf],
                           "pid": None, "deleted": True, "tags": ["never_seen_tombstone"], "versions": 1})

# ------------------------------------------------------------------ write
os.makedirs(args.out, exist_ok=True)
for key, vs in versions.items():
    vs.sort(key=lambda x: x[0])  # stable: arrival order among equal times
    with open(os.path.join(args.out, key.replace("/", "__") + ".json"), "w") as fh:
        json.dump([{"t": t, "rec": r} for t, r in vs], fh, ensure_ascii=False)
with open(os.path.join(args.out, "catalog.json"), "w") as fh:
    json.dump(catalog, fh, ensure_ascii=False)


def pj(p):
    q = {k: v for k, v in p.items() if k not in ("flat",)}
    for k in ("birth", "death", "moved"):
        q[k] = p[k].isoformat() if p[k] else None
    q["flat"] = p["flat"]
    q["registry_scope"] = p["kind"] in ("E_alive", "E_dead", "E_moved", "B_elder")
    return q


with open(os.path.join(args.out, "truth.json"), "w") as fh:
    json.dump({"as_of": ASOF.isoformat(), "generated": NOW.isoformat(), "seed": args.seed,
               "persons": {k: pj(p) for k, p in persons.items()}, "records": truth_recs}, fh, ensure_ascii=False)
print("persons", len(persons), Counter(p["kind"] for p in P))
print("registry-scope elders", sum(1 for p in P if p["kind"] in ("E_alive", "E_dead", "E_moved", "B_elder")))
for key, vs in sorted(versions.items()):
    print(f"{key:40s} versions={len(vs):6d} ids={len({r[next(iter(r))] for _, r in vs}):6d}")
