"""One person's life on the five platforms: the plan (what truly happened) and its
emission as wire records with noise.

A person is built in three steps, all from the person's own random stream:

1. *plan* — identity, civil-affairs registration and flags, disability, programmes and
   every transaction, generated so that the true values satisfy every POLICY.md rule;
2. *plant* — for a few persons, one deliberate breach (:mod:`simulators.gen_breaches`);
3. *emit* — records serialised with orjson straight into the store, with noise drawn per
   record; the ground truth gets one compact row per record.

Planted persons' records carry no noise that could hide a breach or break identity (only
re-sends, late commits, late updates and short money formats), so that every planted
breach is visible to a correct hub.
"""

from __future__ import annotations

import bisect
import hashlib
from datetime import date
from random import Random
from typing import TYPE_CHECKING

import orjson

from simulators import gen_common as gc
from simulators.gen_common import (
    NOISE_BIT,
    add_years,
    d8,
    day_epoch,
    dstr,
    gxsj_ts,
    iso_ts,
    iso_week,
    m6,
    make_id,
    monday_of,
    money,
    month_first,
    month_last,
    month_of,
    mstr,
)
from simulators.gen_reference import (
    DISTRICT_CODES,
    DISTRICT_NAMES,
    DOTTED_PARTS,
    ETHNIC_DOTTED,
    ETHNIC_HAN,
    ETHNIC_OTHER,
    FEMALE_CHARS,
    ID_AREA_CODES,
    MALE_CHARS,
    MIDDLE_DOT,
    MOBILE_PREFIXES,
    RETIRED_CODES,
    ROADS,
    SURNAMES,
    TOWNS,
    VILLAGE_SUFFIX,
)

if TYPE_CHECKING:  # pragma: no cover
    from simulators.generator import GeneratorConfig

_orjson_dumps = orjson.dumps


def dumps(obj) -> bytes:
    """orjson bytes, copied to an exactly-sized object: orjson's own result keeps a 4 KiB
    allocation, ten times the body, which would dominate the store's memory."""
    return memoryview(_orjson_dumps(obj)).tobytes()


# --------------------------------------------------------------------------- resources

RESOURCES: list[tuple[str, str, str]] = [
    ("public_security", "residents", "R"),
    ("civil_affairs", "elders", "EL"),
    ("civil_affairs", "benefits", "BN"),
    ("civil_affairs", "card-deposits", "CD"),
    ("civil_affairs", "meal-records", "ML"),
    ("civil_affairs", "subsidy-payments", "SP"),
    ("civil_affairs", "time-bank", "TB"),
    ("health", "family-doctor-contracts", "FC"),
    ("health", "home-medical-services", "HS"),
    ("health", "death-certificates", "DC"),
    ("medical_insurance", "insured-persons", "IP"),
    ("medical_insurance", "ltc-enrolments", "LE"),
    ("medical_insurance", "ltc-payments", "LP"),
    ("property_mgmt", "service-orders", "SO"),
]
(R_PS, R_EL, R_BN, R_CD, R_ML, R_SP, R_TB, R_FC, R_HS, R_DC, R_IP, R_LE, R_LP, R_SO) = range(
    len(RESOURCES)
)
RES_INDEX = {(p, r): i for i, (p, r, _) in enumerate(RESOURCES)}

_CIVIL = ("record_id", "updated_at", iso_ts, "deleted", False, True)
_MI = ("recordId", "updtTime", iso_ts, "valiFlag", "1", "0")
#: per resource: id field, time field, time formatter, tombstone field, its live and
#: withdrawn values (None: no tombstones)
STYLE = [
    ("rid", "gxsj", gxsj_ts, None, None, None),
    _CIVIL,
    _CIVIL,
    _CIVIL,
    _CIVIL,
    _CIVIL,
    _CIVIL,
    _CIVIL,
    _CIVIL,
    _CIVIL,
    _MI,
    _MI,
    _MI,
    ("order_id", "modified_at", iso_ts, "is_void", False, True),
]

CARD1, CARD2 = "CONSUMPTION_CARD_1", "CONSUMPTION_CARD_2"
HOME, BED, BED_OP, CENTRAL = (
    "HOME_CARE_PURCHASE",
    "FAMILY_BED",
    "FAMILY_BED_OPERATOR",
    "CENTRALIZED_SUPPORT",
)
MEAL_AID, MEAL_DELIVERY, TIME_BANK = "MEAL_AID", "MEAL_DELIVERY", "TIME_BANK"
PAID_PROGRAMS = {HOME, BED, BED_OP, CENTRAL}
SUPPORT_PROGRAMS = {HOME, CENTRAL}

B = NOISE_BIT
LATE_UPDATE, RESEND, TOMB, TOMB_UNK, LATE_COMMIT = (
    B["late_update"],
    B["resend"],
    B["tombstone"],
    B["tombstone_unknown"],
    B["late_commit"],
)
MONEY_FMT, NEGATIVE, IMPOSSIBLE, FUTURE = (
    B["money_format"],
    B["negative_amount"],
    B["impossible_date"],
    B["future_date"],
)
ID_KINDS = (
    "id_legacy15",
    "id_lower_x",
    "id_fullwidth",
    "id_spaces",
    "id_bad_check",
    "id_transposed",
    "id_empty",
)
ID_ALL = sum(B[k] for k in ID_KINDS)
ID_SAFE = B["id_legacy15"] | B["id_lower_x"] | B["id_fullwidth"] | B["id_spaces"]
NAME_KINDS = (
    "name_spaces",
    "name_fullwidth",
    "name_traditional",
    "name_dot_variant",
    "name_homophone",
)
REC_KINDS = (
    "impossible_date",
    "future_date",
    "negative_amount",
    "late_update",
    "resend",
    "tombstone",
    "tombstone_unknown",
    "money_format",
    "late_commit",
)
#: record-level noise a planted person's records may still carry
PROTECTED_OK = LATE_UPDATE | RESEND | LATE_COMMIT | MONEY_FMT
_SLOW = LATE_UPDATE | RESEND | TOMB | TOMB_UNK | LATE_COMMIT
ALL_BITS = (1 << len(gc.NOISE_KINDS)) - 1

DAY = 86400
SYS_START = date(2016, 1, 1).toordinal()  # the civil-affairs platform's first registrations
PS_START = date(2010, 1, 1).toordinal()  # earliest update times kept by public security
MI_START = date(2012, 1, 1).toordinal()  # earliest update times kept by medical insurance

_SURNAME_CUM: list[int] = []
_acc = 0
for _s, _w in SURNAMES:
    _acc += _w
    _SURNAME_CUM.append(_acc)

_LEVELS_BY_AGE = {  # elder ability level distribution by age at the period start
    60: (0.84, 0.08, 0.03, 0.02, 0.015, 0.015),
    70: (0.68, 0.13, 0.07, 0.05, 0.04, 0.03),
    80: (0.45, 0.18, 0.12, 0.10, 0.08, 0.07),
}
_LTC_FEN = {2: 90_000, 3: 120_000, 4: 150_000, 5: 180_000}
_HOME_CARE_CENTS = {0: 30_000, 1: 30_000, 2: 40_000, 3: 50_000, 4: 60_000, 5: 70_000}


def _perm_params(seed: int, res: int) -> tuple[int, int]:
    h = hashlib.blake2b(f"{seed}:{RESOURCES[res][1]}".encode(), digest_size=16).digest()
    a = int.from_bytes(h[:8], "big") % 10**12
    b = int.from_bytes(h[8:], "big") % 10**12
    a |= 1
    if a % 5 == 0:
        a += 2
    return a, b


class E:
    """One enrolment (benefits record) in the plan."""

    __slots__ = (
        "amount",
        "chosen",
        "dcode",
        "end",
        "end_known",
        "erid",
        "extra",
        "org",
        "pay",
        "prog",
        "rid",
        "start",
        "status",
        "susp",
    )

    def __init__(self, rid, prog, start, end, org, dcode, erid, chosen=None, amount=0):
        self.rid = rid
        self.prog = prog
        self.start = start
        self.end = end  # ordinal or None (open)
        self.end_known = False  # end_date known when the record was created
        self.status = None  # "suspended" or None (derived from dates)
        self.susp = 0  # date of suspension
        self.org = org
        self.dcode = dcode
        self.erid = erid
        self.chosen = chosen
        self.amount = amount  # monthly payment in cents (paid programmes)
        self.pay: dict[int, str] = {}  # month -> subsidy-payment record id
        self.extra: list[int] = []  # planted: months paid after death

    def held_range(self, lo: int, hi: int) -> tuple[int, int]:
        """Days held within [lo, hi] as (first, last); first > last when none."""
        if self.status == "suspended":
            return 1, 0
        s = max(self.start, lo)
        e = hi if self.end is None else min(self.end, hi)
        return s, e


class LTC:
    __slots__ = ("a1", "a2", "begn", "end", "extra", "inst", "l1", "l2", "mode", "pay", "rid")

    def __init__(self, rid, a1, l1, begn, mode, inst):
        self.rid, self.a1, self.l1, self.begn, self.mode, self.inst = rid, a1, l1, begn, mode, inst
        self.a2 = 0
        self.l2 = 0
        self.end = None
        self.pay: dict[int, str] = {}
        self.extra: list[int] = []


class P:
    """A person's plan. Plain attribute bag; lives only while the person is generated."""

    __slots__ = (
        "L0",
        "L1",
        "act_from",
        "act_to",
        "active",
        "address",
        "alt_org",
        "assessed",
        "assist",
        "birth",
        "breaches",
        "building",
        "card",
        "card_no",
        "card_type",
        "centralized",
        "coins",
        "community",
        "company",
        "contract",
        "d60",
        "d70",
        "dc",
        "dcode",
        "death",
        "delivery_d10",
        "deposits",
        "didx",
        "dup_elder",
        "elig",
        "end",
        "enrols",
        "erid",
        "fam_bed",
        "gender",
        "historic",
        "hms",
        "home",
        "hukou",
        "i",
        "id18",
        "ins",
        "is_elder",
        "left_behind",
        "lives_alone",
        "loc",
        "ltc",
        "meal_org",
        "meals",
        "move",
        "mz",
        "name",
        "orders",
        "phone",
        "protect",
        "ps_addr_change",
        "psrid",
        "reass",
        "reg",
        "registered",
        "rng",
        "room",
        "settle",
        "status",
        "support",
        "town",
        "village",
    )


def _discard(*_args: object) -> None:
    """The sink of a resource ``GeneratorConfig.resources`` leaves out."""


class PersonGen:
    """Generates persons into a store and a truth. One instance per generation run."""

    def __init__(self, cfg: GeneratorConfig, pop, orgs, store, truth) -> None:
        self.cfg = cfg
        self.v = cfg.volumes
        self.nz = cfg.noise
        self.orgs = orgs
        self.truth = truth
        self.seed = cfg.seed
        self.p0 = cfg.period_start.toordinal()
        self.p1 = cfg.period_end.toordinal()
        self.now_epoch = int(cfg.now.timestamp())
        self.now_o = (self.now_epoch + gc.TZ_OFFSET) // DAY + gc.EPOCH_ORD
        self.nowmax = self.now_epoch - 120
        self.lcm = month_of(self.now_o) - 1  # last completed month
        self.last_monday = monday_of(self.now_o) - 7  # Monday of the last completed week
        self.m0, self.m1 = month_of(self.p0), month_of(self.p1)
        # population columns as Python lists (fast element access)
        self.pop = pop
        self.col_elder = pop.is_elder.tolist()
        self.col_district = pop.district.tolist()
        self.col_area = pop.area.tolist()
        self.col_birth = pop.birth.tolist()
        self.col_d60 = pop.d60.tolist()
        self.col_gender = pop.gender.tolist()
        self.col_seq = pop.seq.tolist()
        self.col_rural = pop.rural.tolist()
        self.col_status = pop.status.tolist()
        self.col_event = pop.event.tolist()
        self.col_historic = pop.historic.tolist()
        # sinks
        kept = [cfg.resources is None or (p, r) in cfg.resources for p, r, _ in RESOURCES]
        self.app = [store.log(p, r).append if k else _discard for (p, r, _), k in zip(RESOURCES, kept, strict=True)]
        self.t_add = [truth._record_adder(p, r) if k else _discard
                      for (p, r, _), k in zip(RESOURCES, kept, strict=True)]
        self.perm = [_perm_params(self.seed, r) for r in range(len(RESOURCES))]
        self.prefix = [pre for _, _, pre in RESOURCES]
        self._init_noise()
        from simulators.gen_breaches import plant

        self._plant = plant

    # ------------------------------------------------------------------ noise setup

    def _init_noise(self) -> None:
        nz = self.nz
        ids = [(B[k], getattr(nz, k)) for k in ID_KINDS]
        tot = sum(r for _, r in ids)
        f = 1.0 / tot if tot > 1 else 1.0
        self.id_kinds = [(b, r * f) for b, r in ids]
        self.id_total = min(1.0, tot)
        names = [(k, getattr(nz, k)) for k in NAME_KINDS]
        tot = sum(r for _, r in names)
        f = 1.0 / tot if tot > 1 else 1.0
        self.name_kinds = [(k, r * f) for k, r in names]
        self.name_total = min(1.0, tot)
        rec = [(B[k], getattr(nz, k)) for k in REC_KINDS]
        tot = min(1.0, sum(r for _, r in rec))
        self.rec_total = tot
        self.rec_kinds = [(b, min(1.0, r / tot) if tot else 0.0) for b, r in rec]
        self.r_gender = nz.gender_contradicts_id
        self.r_birth = nz.birth_contradicts_id
        self.r_phone = nz.phone_format
        self.r_retired = nz.retired_area_code
        self.r_dup = nz.duplicate_registration

    # ------------------------------------------------------------------ helpers

    def rid(self, p: P, res: int) -> str:
        seq = self.counts_p[res]
        self.counts_p[res] = seq + 1
        if seq >= 4096:
            raise RuntimeError("too many records of one resource for one person")
        a, b = self.perm[res]
        return f"{self.prefix[res]}{((p.i * 4096 + seq) * a + b) % 10**12:012d}"

    def rec_noise(self, rng: Random, allowed: int) -> int:
        if rng.random() >= self.rec_total:
            return 0
        m = 0
        r = rng.random
        for bit, q in self.rec_kinds:
            if r() < q:
                m |= bit
        return m & allowed

    def id_noise(self, rng: Random, id18: str, allowed: int) -> tuple[str, int]:
        u = rng.random()
        if u >= self.id_total:
            return id18, 0
        acc = 0.0
        has_x = id18[17] == "X"
        for bit, w in self.id_kinds:
            if bit == B["id_lower_x"] and not has_x:
                continue
            acc += w
            if u < acc:
                if not bit & allowed:
                    return id18, 0
                r = rng.random()
                if bit == B["id_legacy15"]:
                    return gc.id_legacy15(id18), bit
                if bit == B["id_lower_x"]:
                    return id18[:17] + "x", bit
                if bit == B["id_fullwidth"]:
                    return gc.id_fullwidth(id18), bit
                if bit == B["id_spaces"]:
                    return (
                        " " + id18 if r < 0.3 else id18 + " " if r < 0.6 else " " + id18 + "  "
                    ), bit
                if bit == B["id_bad_check"]:
                    return gc.id_bad_check(id18, r), bit
                if bit == B["id_transposed"]:
                    return gc.id_transposed(id18, r), bit
                return "", bit
        return id18, 0

    def name_noise(self, rng: Random, name: str, homophone: bool) -> tuple[str, int]:
        u = rng.random()
        if u >= self.name_total:
            return name, 0
        acc = 0.0
        for kind, w in self.name_kinds:
            acc += w
            if u < acc:
                r = rng.random()
                if kind == "name_spaces":
                    return gc.name_spaces(name, r), B[kind]
                if kind == "name_fullwidth":
                    return gc.name_fullwidth(name, r), B[kind]
                if kind == "name_traditional":
                    out = gc.name_traditional(name)
                elif kind == "name_dot_variant":
                    out = gc.name_dot_variant(name, r)
                elif homophone:
                    out = gc.name_homophone(name, r)
                else:
                    out = None
                return (name, 0) if out is None else (out, B[kind])
        return name, 0

    def birth_noise(self, rng: Random, birth: int) -> int:
        r = rng.random()
        if r < 0.35:
            return birth + (1 if r < 0.17 else -1)
        if r < 0.7:
            return add_years(birth, 1 if r < 0.52 else -1)
        return birth + (31 if r < 0.85 else -30)

    def phone_of(self, rng: Random) -> str:
        r = rng.random
        return MOBILE_PREFIXES[int(r() * len(MOBILE_PREFIXES))] + f"{int(r() * 1e8):08d}"

    def ts(self, rng: Random, o: int, h0: int = 8, h1: int = 18) -> int:
        """A time on day ``o`` between h0 and h1 o'clock."""
        return day_epoch(o) + h0 * 3600 + int(rng.random() * (h1 - h0) * 3600)

    def rand_day(self, rng: Random, lo: int, hi: int) -> int:
        return lo + int(rng.random() * (hi - lo + 1))

    # ------------------------------------------------------------------ emission core

    def put(
        self, p: P, res: int, rid: str, d: dict, versions: list, mask: int, rng: Random
    ) -> None:
        """Serialise the versions of one record (final field values in ``d``; each version
        a (time, overrides) pair, oldest first) and record it in the truth."""
        idk, tsk, fmt, delk, dfalse, dtrue = STYLE[res]
        app = self.app[res]
        nowmax = self.nowmax
        if not mask & _SLOW and len(versions) == 1:  # the common case
            t, ov = versions[0]
            t = min(t, nowmax)
            d[tsk] = fmt(t)
            if ov:
                v = d.copy()
                v.update(ov)
                app(rid, float(t), memoryview(_orjson_dumps(v)).tobytes())
            else:
                app(rid, float(t), memoryview(_orjson_dumps(d)).tobytes())
            self.t_add[res](rid, p.i, mask)
            return
        if mask & LATE_UPDATE:
            ov = self.perturb(res, d, rng)
            t0, ov0 = versions[0]
            nxt = versions[1][0] if len(versions) > 1 else nowmax
            delay = min(3600 + int(rng.random() * 30 * DAY), (nxt - t0) // 2, nowmax - t0)
            if ov and delay >= 60:
                bad = dict(ov0) if ov0 else {}
                bad.update(ov)
                versions = [(t0, bad), (t0 + delay, ov0)] + versions[1:]
            else:
                mask &= ~LATE_UPDATE
        n = len(versions)
        if n == 1:
            t = versions[0][0]
            t = min(t, nowmax)
            times = [t]
        else:
            times = [t for t, _ in versions]
            times[-1] = min(times[-1], nowmax)
            for k in range(n - 2, -1, -1):
                if times[k] >= times[k + 1]:
                    times[k] = times[k + 1] - 1
        bodies = []
        for k in range(n):
            ov = versions[k][1]
            d[tsk] = fmt(times[k])
            if ov:
                v = d.copy()
                v.update(ov)
                bodies.append(dumps(v))
            else:
                bodies.append(dumps(d))
        last = n - 1
        vis_last = None
        if mask & LATE_COMMIT:
            t = times[last]
            if t + 300 <= self.now_epoch:
                vis_last = float(t + 1 + int(rng.random() * 299))
            else:
                mask &= ~LATE_COMMIT
        for k in range(n):
            if k == last and vis_last is not None:
                app(rid, float(times[k]), bodies[k], vis_last)
            else:
                app(rid, float(times[k]), bodies[k])
        if mask & RESEND:
            k = last if rng.random() < 0.7 else int(rng.random() * n)
            app(rid, float(times[k]), bodies[k])
        if delk is not None and mask & (TOMB | TOMB_UNK):
            if mask & TOMB:
                # an erroneous copy of the record's first version, withdrawn later
                rid2 = self.rid(p, res)
                t1 = min(times[0] + 60 + int(rng.random() * 3600), nowmax - 1)
                t2 = min(t1 + 3600 + int(rng.random() * 15 * DAY), nowmax)
                if t2 > t1:
                    c = d.copy()
                    if versions[0][1]:
                        c.update(versions[0][1])
                    c[idk] = rid2
                    c[tsk] = fmt(t1)
                    app(rid2, float(t1), dumps(c))
                    c[tsk] = fmt(t2)
                    c[delk] = dtrue
                    app(rid2, float(t2), dumps(c))
                    self.t_add[res](rid2, p.i, TOMB)
            if mask & TOMB_UNK:
                rid3 = self.rid(p, res)
                t3 = min(times[last] + 3600 + int(rng.random() * 15 * DAY), nowmax)
                d[idk] = rid3
                d[tsk] = fmt(t3)
                d[delk] = dtrue
                app(rid3, float(t3), dumps(d))
                d[delk] = dfalse
                self.t_add[res](rid3, p.i, TOMB_UNK)
            mask &= ~(TOMB | TOMB_UNK)
        self.t_add[res](rid, p.i, mask)

    def perturb(self, res: int, d: dict, rng: Random) -> dict | None:
        """Field values of an erroneous first version, corrected by a later update."""
        r = rng.random()
        if res == R_EL:
            return (
                {"phone": self.phone_of(rng)} if r < 0.5 else {"lives_alone": not d["lives_alone"]}
            )
        if res == R_BN:
            return {"provider_org_code": d["provider_org_code"][:-3] + "000"}
        if res == R_CD:
            return {"deposit_amount": money(int(r * 400) * 100 + 1000)}
        if res == R_ML:
            zero = d["subsidy_amount"] in ("0", "0.0", "0.00")
            return {"subsidy_amount": "3.00" if zero else "0.00"}
        if res == R_SP:
            return {"amount": money(int(r * 500) * 100 + 100)}
        if res == R_TB:
            return {"hours_granted": 8 if r < 0.5 else 2}
        if res == R_FC:
            return {"team_code": d["team_code"][:-2] + "99"}
        if res == R_HS:
            return {
                "service_type": "home_visit"
                if d["service_type"] != "home_visit"
                else "telemedicine"
            }
        if res == R_DC:
            return {"issued_on": d["date_of_death"]}
        if res == R_IP:
            return {"insutype": "390" if d["insutype"] != "390" else "310"}
        if res == R_LE:
            return {"careMode": "home" if d["careMode"] != "home" else "institution"}
        if res == R_LP:
            return {"amountFen": d["amountFen"] + 10_000}
        if res == R_SO:
            return {"price": money(int(r * 200) * 100 + 500)}
        return None

    # ------------------------------------------------------------------ the person

    def build(self, i: int) -> None:
        rng = Random(((self.seed & 0xFFFF_FFFF_FFFF) << 32) | i)
        r = rng.random
        self.counts_p = [0] * len(RESOURCES)
        p = P()
        p.i = i
        p.rng = rng
        p.is_elder = self.col_elder[i]
        p.birth = self.col_birth[i]
        p.d60 = self.col_d60[i]
        p.d70 = add_years(p.birth, 70)
        p.gender = self.col_gender[i]
        p.didx = self.col_district[i]
        p.dcode = DISTRICT_CODES[p.didx]
        area = ID_AREA_CODES[self.col_area[i]]
        p.id18 = make_id(area, d8(p.birth), self.col_seq[i])
        p.hukou = "rural" if self.col_rural[i] else "urban"
        p.status = self.col_status[i]
        ev = self.col_event[i]
        p.death = ev if p.status == 1 else 0
        p.move = ev if p.status == 2 else 0
        p.end = ev
        p.historic = self.col_historic[i]
        p.act_from = max(self.p0, p.d60)
        p.act_to = min(self.p1, p.end - 1) if p.end else self.p1
        p.active = p.is_elder and not p.historic and p.act_from <= p.act_to
        p.protect = False
        p.breaches = []
        p.enrols = []
        p.deposits = []
        p.meals = []
        p.coins = []
        p.hms = []
        p.orders = []
        p.ltc = None
        p.contract = None
        p.ins = False
        p.dc = False
        p.registered = False
        p.erid = None
        p.dup_elder = None
        p.card = None
        p.fam_bed = p.centralized = p.home = False
        p.support = None
        p.L0 = p.L1 = 0
        p.reass = 0
        p.assist = None
        p.left_behind = p.lives_alone = p.loc = False
        p.settle = []
        p.reg = 0
        p.assessed = 0
        p.elig = False
        p.card_no = None
        p.card_type = 0
        p.meal_org = p.alt_org = None
        p.delivery_d10 = None
        p.company = None
        p.community = p.building = p.room = None
        p.ps_addr_change = False
        p.psrid = None

        # ---- identity
        v = self.v
        if r() < v.dotted_name_rate:
            p.name = (
                DOTTED_PARTS[int(r() * len(DOTTED_PARTS))]
                + MIDDLE_DOT
                + DOTTED_PARTS[int(r() * len(DOTTED_PARTS))]
            )
            p.mz = ETHNIC_DOTTED[int(r() * len(ETHNIC_DOTTED))]
        else:
            s = SURNAMES[bisect.bisect_right(_SURNAME_CUM, int(r() * _SURNAME_CUM[-1]))][0]
            pool = MALE_CHARS if p.gender == 1 else FEMALE_CHARS
            g = pool[int(r() * len(pool))]
            if r() < 0.65:
                g += pool[int(r() * len(pool))]
            p.name = s + g
            if r() < 0.985:
                p.mz = ETHNIC_HAN
            else:
                p.mz = ETHNIC_OTHER[int(r() * len(ETHNIC_OTHER))][0]
        p.phone = "" if r() < 0.06 else self.phone_of(rng)
        towns = TOWNS[p.dcode]
        p.town = int(r() * len(towns))
        dname = DISTRICT_NAMES[p.dcode]
        roads = ROADS[p.dcode]
        if p.hukou == "rural":
            p.village = (
                SURNAMES[int(r() * len(SURNAMES))][0]
                + VILLAGE_SUFFIX[int(r() * len(VILLAGE_SUFFIX))]
            )
            p.address = f"青岛市{dname}{towns[p.town]}{p.village}{1 + int(r() * 300)}号"
        else:
            road = roads[int(r() * len(roads))]
            p.village = road + "社区"
            p.address = (
                f"青岛市{dname}{road}{1 + int(r() * 200)}号{1 + int(r() * 30)}号楼"
                f"{1 + int(r() * 4)}单元{1 + int(r() * 18)}0{1 + int(r() * 4)}户"
            )

        self.truth._add_person(
            i,
            p.id18,
            p.name,
            p.gender,
            p.birth,
            p.dcode,
            p.hukou,
            p.status,
            p.death,
            p.move,
            p.is_elder,
        )

        if p.is_elder:
            p.psrid = self.rid(p, R_PS)
            p.ps_addr_change = p.active and r() < 0.03
        if not p.is_elder:
            if r() < v.non_elder_property_rate:
                self.plan_orders(p, self.p0, self.p1, 1 + int(r() * 5), claim_from=None)
        elif p.active:
            self.plan_active(p)
        else:
            # historic persons (died or moved out before the period) and the few who turn
            # 60 only after it: public security, insurance and death certificates
            p.ins = r() < v.insured_rate
            p.dc = p.death > 0 and r() < v.death_certificate_rate

        if self.cfg.breach_rate > 0 and (p.active or not p.is_elder):
            self._plant(self, p)
        self.derive_payments(p)
        self.emit(p)
        for rule, org, period, evidence in p.breaches:
            self.truth._add_breach(rule, i, org, period, [resolve_ref(x) for x in evidence])

    # ------------------------------------------------------------------ plan (active)

    def plan_active(self, p: P) -> None:
        rng = p.rng
        r = rng.random
        v = self.v
        p0 = self.p0
        age0 = (p0 - p.birth) / 365.2425
        levels = _LEVELS_BY_AGE[80 if age0 >= 80 else 70 if age0 >= 70 else 60]
        u = r()
        acc = 0.0
        p.L0 = 5
        for lv, w in enumerate(levels):
            acc += w
            if u < acc:
                p.L0 = lv
                break
        p.L1 = p.L0

        # ---- civil-affairs registration
        if r() < v.civil_registration_rate:
            if p.d60 < p0:
                lo = max(p.d60, SYS_START)
                if lo < p0:
                    p.reg = self.rand_day(rng, lo, p0 - 1)
                else:
                    p.reg = 0
            else:
                p.reg = p.d60 + int(r() * 21)
            if p.reg and p.reg <= p.act_to:
                p.registered = True
        if p.registered:
            p.erid = self.rid(p, R_EL)
            u = r()
            if u < v.tekun_rate:
                p.assist = "tekun"
            elif u < v.tekun_rate + v.dibao_rate:
                p.assist = "dibao"
            elif u < v.tekun_rate + v.dibao_rate + v.dibao_edge_rate:
                p.assist = "dibao_edge"
            lb_rate = v.left_behind_rural_rate if p.hukou == "rural" else v.left_behind_urban_rate
            p.left_behind = r() < lb_rate
            p.lives_alone = r() < (0.5 if p.left_behind else v.lives_alone_rate)
            p.loc = r() < v.lost_only_child_rate
            if p.move:
                # movers leave the city: keep them out of support and time-bank duties
                p.left_behind = False
                p.loc = False
                if p.assist in ("tekun", "dibao"):
                    p.assist = None
            if p.reg < p0:
                p.assessed = min(p.reg + int(r() * 200), p0 - 1)
            else:
                p.assessed = p.reg
        else:
            p.assessed = 0

        # ---- support (centralized or purchased home care)
        elig = p.registered and (
            p.assist == "tekun" or ((p.assist == "dibao" or p.loc) and p.L0 >= 2)
        )
        p.elig = elig
        if p.registered:
            if elig:
                if p.assist in ("tekun", "dibao") and r() < (0.35 if p.assist == "tekun" else 0.2):
                    p.centralized = True
                else:
                    p.home = True
            elif p.L0 >= 3 and r() < v.home_care_extra_rate or p.assist == "dibao" and r() < 0.1:
                p.home = True
        if p.centralized:
            p.left_behind = False
            p.lives_alone = False
        if p.centralized or p.home:
            prog = CENTRAL if p.centralized else HOME
            if elig:
                start = self.support_start(p)
            else:
                start = self.enrol_start(p, 0.6)
            if start is not None:
                if p.centralized:
                    org = self.orgs.institutions[p.dcode][
                        int(r() * len(self.orgs.institutions[p.dcode]))
                    ]
                    amount = 180_000 if p.assist == "tekun" else 150_000
                else:
                    org = self.orgs.providers[p.dcode][int(r() * len(self.orgs.providers[p.dcode]))]
                    amount = _HOME_CARE_CENTS[p.L0]
                e = E(
                    self.rid(p, R_BN),
                    prog,
                    start,
                    p.end or None,
                    org,
                    p.dcode,
                    p.erid,
                    amount=amount,
                )
                if not elig and not p.end and r() < 0.1:
                    e.end = start + 90 + int(r() * 300)
                p.enrols.append(e)
                p.support = e
            else:
                p.centralized = p.home = False

        # ---- family bed (disabled elders at home)
        if (
            p.registered
            and not p.centralized
            and not p.home
            and p.L0 >= 2
            and r() < v.family_bed_rate
        ):
            start = self.enrol_start(p, 0.6)
            if start is not None:
                inst = self.orgs.institutions[p.dcode][
                    int(r() * len(self.orgs.institutions[p.dcode]))
                ]
                end = p.end or None
                p.enrols.append(
                    E(
                        self.rid(p, R_BN),
                        BED,
                        start,
                        end,
                        inst,
                        p.dcode,
                        p.erid,
                        amount=15_000 + 1_000 * int(r() * 15),
                    )
                )
                p.enrols.append(
                    E(self.rid(p, R_BN), BED_OP, start, end, inst, p.dcode, p.erid, amount=30_000)
                )
                p.fam_bed = True

        # ---- rural consumption cards
        if p.registered and p.hukou == "rural" and not p.centralized and not p.home:
            ctype = 0
            chosen = None
            if p.fam_bed:
                if r() < 0.4:
                    ctype, chosen = 2, "family_bed_discount"
            else:
                u = r()
                if u < v.card1_rate:
                    ctype = 1
                elif u < v.card1_rate + v.card2_rate:
                    ctype, chosen = 2, "card_subsidy"
            if ctype:
                self.plan_card(p, ctype, chosen)

        # ---- meals
        if p.registered and not p.centralized:
            if p.L0 >= 2 and r() < v.delivery_rate:
                self.plan_delivery(p)
            else:
                rate = v.meal_rate_70 if p.d70 <= self.p1 else v.meal_rate_60
                if r() < rate:
                    self.plan_meals(p)

        # ---- earlier, ended enrolment (re-enrolments, lapsed cards)
        if p.registered and r() < v.previous_enrolment_rate:
            self.plan_previous(p)

        # ---- time bank for rural left-behind elders
        if p.registered and p.hukou == "rural" and p.left_behind:
            self.plan_time_bank(p)

        # ---- reassessment during the period (never across the 2 threshold; not for
        # delivery users, whose eligibility rests on the pre-period assessment)
        has_delivery = any(e.prog == MEAL_DELIVERY for e in p.enrols)
        if (
            p.registered
            and not has_delivery
            and p.assessed < p0
            and r() < v.reassessment_rate
            and p.act_to - p0 > 30
        ):
            p.reass = self.rand_day(rng, p0 + 1, p.act_to)
            if p.L0 >= 2:
                p.L1 = min(5, p.L0 + (1 if r() < 0.5 else 0))
            else:
                p.L1 = 1 - p.L0 if r() < 0.5 else p.L0

        # ---- health
        lvl = p.L1
        if lvl >= 2 and r() < v.home_medical_disabled_rate:
            k = 4 + int(r() * 11)
        elif r() < v.home_medical_other_rate:
            k = 1 + int(r() * 4)
        else:
            k = 0
        if k:
            inst = self.orgs.health[p.dcode][int(r() * len(self.orgs.health[p.dcode]))]
            for _ in range(k):
                day = self.rand_day(rng, p.act_from, p.act_to)
                u = r()
                if lvl >= 2:
                    st = (
                        "home_bed"
                        if (p.fam_bed or lvl >= 4) and u < 0.5
                        else "home_visit"
                        if u < 0.8
                        else "telemedicine"
                    )
                else:
                    st = "home_visit" if u < 0.4 else "telemedicine"
                p.hms.append([self.rid(p, R_HS), day, st, inst])
            p.hms.sort(key=lambda h: h[1])
        if r() < v.contract_rate:
            self.plan_contract(p)
        p.dc = p.death > 0 and r() < v.death_certificate_rate

        # ---- medical insurance
        p.ins = r() < v.insured_rate
        if p.L0 >= 2 and r() < v.ltc_rate:
            self.plan_ltc(p)

        # ---- property services
        rate = v.property_urban_rate if p.hukou == "urban" else v.property_rural_rate
        if not p.centralized and r() < rate:
            n = 1 + int(r() * 2 * (v.property_orders_mean - 1))
            self.plan_orders(p, self.p0, p.act_to, n, claim_from=p.d60)

    def support_start(self, p: P) -> int:
        """Support for an eligible elder starts when they became an elder (or long ago),
        so that no month of the period is left uncovered."""
        rng = p.rng
        if p.d60 >= self.p0:
            return p.d60
        lo = max(p.d60, SYS_START)
        if lo >= self.p0:
            return self.p0 - 1
        return self.rand_day(rng, lo, self.p0 - 1)

    def enrol_start(self, p: P, pre: float) -> int | None:
        """A start date: before the period with probability ``pre`` (if the person was
        registered then), otherwise inside it; None if no room is left."""
        rng = p.rng
        if p.reg < self.p0 and rng.random() < pre:
            lo = max(p.reg, self.p0 - 3 * 365)
            return self.rand_day(rng, lo, self.p0 - 1)
        lo = max(p.reg, p.act_from)
        hi = p.act_to - 20
        if hi < lo:
            return None
        return self.rand_day(rng, lo, hi)

    def plan_card(self, p: P, ctype: int, chosen: str | None) -> None:
        rng = p.rng
        r = rng.random
        start = self.enrol_start(p, 0.75)
        if start is None:
            return
        centre = self.orgs.centres[p.dcode][p.town]
        e = E(
            self.rid(p, R_BN),
            CARD1 if ctype == 1 else CARD2,
            start,
            p.end or None,
            centre,
            p.dcode,
            p.erid,
            chosen=chosen,
        )
        u = r()
        if not p.end and u < 0.05:
            e.end = self.rand_day(rng, max(start, p.act_from) + 30, p.act_to + 60)
        elif not p.end and u < 0.07:
            e.status = "suspended"
            e.susp = self.rand_day(rng, max(start, p.act_from), p.act_to)
        p.enrols.append(e)
        p.card = e
        p.card_type = ctype
        p.card_no = f"37{p.dcode[2:]}{int(r() * 1e10):010d}"
        last = p.act_to if e.end is None else min(e.end, p.act_to)
        if e.status == "suspended":
            last = min(last, e.susp - 1)
        self.add_deposits(
            p,
            e,
            max(start, p.act_from),
            last,
            ctype,
            subsidise=chosen != "family_bed_discount",
            skip=0.05,
        )

    def add_deposits(
        self,
        p: P,
        e: E,
        first: int,
        last: int,
        ctype: int,
        subsidise: bool,
        skip: float,
        low: float = 0.08,
        settle: bool = True,
    ) -> list[list]:
        rng = p.rng
        r = rng.random
        out = []
        thr = 10_000 if ctype == 1 else 20_000
        sub_full = 5_000 if ctype == 1 else 12_000
        if first > last:
            return out
        for m in range(month_of(first), month_of(last) + 1):
            lo = max(month_first(m), first)
            hi = min(month_last(m), last)
            if lo > hi or r() < skip:
                continue
            day = lo + int(r() * (min(hi - lo, 9) + 1))
            if r() < low:
                dep = (2 + int(r() * (thr // 1000 - 2))) * 1000  # below the threshold
            else:
                dep = thr + int(r() * (21 if ctype == 1 else 31)) * 1000
            sub = sub_full if (subsidise and dep >= thr) else 0
            rec = [self.rid(p, R_CD), m, day, dep, sub, ctype, settle, e]
            out.append(rec)
            p.deposits.append(rec)
        return out

    def plan_meals(self, p: P) -> None:
        rng = p.rng
        r = rng.random
        start = self.enrol_start(p, 0.7)
        if start is None:
            return
        canteens = self.orgs.canteens[p.dcode][p.town]
        org = canteens[int(r() * len(canteens))]
        e = E(self.rid(p, R_BN), MEAL_AID, start, p.end or None, org, p.dcode, p.erid)
        u = r()
        if not p.end and u < 0.05:
            e.end = self.rand_day(rng, max(start, p.act_from) + 30, p.act_to + 60)
        elif not p.end and u < 0.07:
            e.status = "suspended"
            e.susp = self.rand_day(rng, max(start, p.act_from), p.act_to)
        p.enrols.append(e)
        p.meal_org = org
        alt = None
        if r() < 0.1:
            others = [
                c
                for c in self.orgs.canteens[p.dcode][
                    (p.town + 1) % len(self.orgs.canteens[p.dcode])
                ]
            ]
            alt = others[int(r() * len(others))]
        p.alt_org = alt
        first = max(start, p.act_from)
        last = p.act_to if e.end is None else min(e.end, p.act_to)
        if e.status == "suspended":
            last = min(last, e.susp - 1)
        f = 0.15 + 0.7 * r()
        g = 0.05 + 0.25 * r() if r() < 0.3 else 0.0
        d70 = p.d70
        working = gc.working
        meals = p.meals
        for o in range(first, last + 1):
            w = working(o)
            if (w and r() < f) or (not w and r() < f * 0.12):
                mo = alt if alt is not None and r() < 0.2 else org
                sub = 300 if (w and o >= d70) else 0
                meals.append([self.rid(p, R_ML), o, "lunch", mo, False, None, sub, 0])
            if g and r() < g:
                meals.append([self.rid(p, R_ML), o, "dinner", org, False, None, 0, 0])

    def plan_delivery(self, p: P) -> None:
        rng = p.rng
        r = rng.random
        start = self.enrol_start(p, 0.6)
        if start is None:
            return
        start = max(start, p.assessed + 1)
        if start > p.act_to:
            return
        canteens = self.orgs.canteens[p.dcode][p.town]
        org = canteens[int(r() * len(canteens))]
        e = E(self.rid(p, R_BN), MEAL_DELIVERY, start, p.end or None, org, p.dcode, p.erid)
        p.enrols.append(e)
        p.meal_org = org
        p.alt_org = None
        d10 = 3 + int(r() * 58)
        p.delivery_d10 = d10
        dsub = delivery_band(d10)
        working = gc.working
        d70 = p.d70
        for o in range(max(start, p.act_from), p.act_to + 1):
            if working(o) and r() < 0.75:
                sub = 300 if o >= d70 else 0
                p.meals.append([self.rid(p, R_ML), o, "lunch", org, True, d10, sub, dsub])

    def plan_previous(self, p: P) -> None:
        rng = p.rng
        progs = [e.prog for e in p.enrols if e.prog in (CARD1, CARD2, MEAL_AID)]
        prog = progs[0] if progs else MEAL_AID
        if prog in (CARD1, CARD2) and p.hukou != "rural":
            return
        cur = [e.start for e in p.enrols if e.prog == prog]
        hi = (min(cur) - 30) if cur else self.p0 - 30
        lo = p.reg
        if hi - lo < 120:
            return
        start = self.rand_day(rng, lo, hi - 90)
        end = self.rand_day(rng, start + 60, hi)
        if prog == MEAL_AID:
            canteens = self.orgs.canteens[p.dcode][p.town]
            org = canteens[int(rng.random() * len(canteens))]
        else:
            org = self.orgs.centres[p.dcode][p.town]
        e = E(
            self.rid(p, R_BN),
            prog,
            start,
            end,
            org,
            p.dcode,
            p.erid,
            chosen="card_subsidy" if prog == CARD2 else None,
        )
        p.enrols.append(e)

    def plan_time_bank(self, p: P) -> None:
        start = self.support_start(p)
        centre = self.orgs.centres[p.dcode][p.town]
        e = E(self.rid(p, R_BN), TIME_BANK, start, p.end or None, centre, p.dcode, p.erid)
        p.enrols.append(e)
        mon = monday_of(p.act_from)
        stop = self.last_monday
        if p.death:
            stop = min(stop, p.death)  # weeks starting on or before the death
        while mon <= stop:
            p.coins.append([self.rid(p, R_TB), mon, 4])
            mon += 7

    def plan_contract(self, p: P) -> None:
        """Yearly-renewed family-doctor contract: the latest signing before the period and
        the renewal inside it (one record, one version per signing)."""
        rng = p.rng
        r = rng.random
        teams = self.orgs.teams[p.dcode]
        team = teams[int(r() * len(teams))]
        if p.d60 < self.p0 - 365:
            s0 = self.rand_day(rng, self.p0 - 365, self.p0 - 1)
        else:
            s0 = self.rand_day(rng, p.act_from, p.act_to)
        signings = [s0]
        renew_stop = r() < 0.05
        nxt = add_years(s0, 1)
        if not renew_stop and nxt <= p.act_to:
            signings.append(nxt)
        p.contract = (self.rid(p, R_FC), team, signings, renew_stop)

    def plan_ltc(self, p: P) -> None:
        rng = p.rng
        r = rng.random
        base = (
            p.assessed
            if p.registered
            else self.rand_day(rng, max(p.d60, self.p0 - 1000), self.p0 - 1)
        )
        if base == 0:
            base = max(p.d60, self.p0 - 300)
        a1 = base + 10 + int(r() * 190)
        begn = a1 + 7 + int(r() * 24)
        if begn > p.act_to - 30:
            return
        l1 = min(5, p.L0 + (1 if r() < 0.3 else 0))
        if p.centralized:
            mode, inst = "institution", p.support.org
        elif p.fam_bed:
            mode = "family_bed"
            inst = next(e.org for e in p.enrols if e.prog == BED)
        else:
            mode = "home"
            inst = (
                p.support.org
                if p.home
                else self.orgs.providers[p.dcode][int(r() * len(self.orgs.providers[p.dcode]))]
            )
        lt = LTC(self.rid(p, R_LE), a1, l1, begn, mode, inst)
        lo = max(begn + 60, self.p0)
        if r() < 0.3 and lo < p.act_to:
            lt.a2 = self.rand_day(rng, lo, p.act_to)
            lt.l2 = min(5, l1 + (1 if r() < 0.5 else 0))
        if p.end:
            lt.end = p.end
        p.ltc = lt

    def plan_orders(self, p: P, lo: int, hi: int, n: int, claim_from: int | None) -> None:
        rng = p.rng
        r = rng.random
        if hi < lo:
            return
        comps = self.orgs.companies[p.dcode]
        comp = comps[int(r() * len(comps))]
        p.company = comp
        p.community = comp.communities[int(r() * len(comp.communities))]
        p.building = f"{1 + int(r() * 30)}号楼"
        p.room = f"{1 + int(r() * 4)}单元{1 + int(r() * 18)}0{1 + int(r() * 4)}"
        types = list(comp.prices)
        claimer = claim_from is not None and r() < 0.6
        days = sorted(self.rand_day(rng, lo, hi) for _ in range(n))
        for day in days:
            st = types[int(r() * len(types))]
            price = comp.prices[st]
            claimed = claimer and day >= claim_from and r() < 0.8
            sub = min(price // 2 // 100 * 100, 3_000) if claimed else 0
            if claimed and sub == 0:
                claimed = False
            p.orders.append([self.rid(p, R_SO), comp, day, st, price, claimed, sub])

    # ------------------------------------------------------------------ derived records

    def derive_payments(self, p: P) -> None:
        """Monthly subsidy payments of paid programmes, the two-monthly card settlement,
        and monthly LTC payments, from the (possibly planted-on) plan."""
        if not p.enrols and p.ltc is None:
            p.settle = []
            return
        rng = p.rng
        r = rng.random
        lo, hi = p.act_from, p.act_to
        for e in p.enrols:
            if e.prog not in PAID_PROGRAMS:
                continue
            s, t = e.held_range(lo, hi)
            if s <= t:
                for m in range(month_of(s), month_of(t) + 1):
                    e.pay[m] = self.rid(p, R_SP)
            for m in e.extra:
                e.pay[m] = self.rid(p, R_SP)
        settle = []
        if p.deposits:
            pairs: dict[int, list] = {}
            for dep in p.deposits:
                if dep[4] > 0 and dep[6]:
                    m = dep[1]
                    ps = m - (m % 12) % 2
                    if ps in pairs:
                        pairs[ps][0] += dep[4]
                    else:
                        pairs[ps] = [dep[4], dep[7]]
            for ps, (amt, e) in sorted(pairs.items()):
                paid = min(month_first(ps + 2) + 2 + int(r() * 10), self.now_o - 1)
                settle.append((self.rid(p, R_SP), e.prog, ps, amt, e.org, paid))
        p.settle = settle
        lt = p.ltc
        if lt is not None:
            s = max(lt.begn, lo)
            t = hi if lt.end is None else min(lt.end, hi)
            if s <= t:
                for m in range(month_of(s), month_of(t) + 1):
                    lt.pay[m] = self.rid(p, R_LP)
            for m in lt.extra:
                lt.pay[m] = self.rid(p, R_LP)

    # ------------------------------------------------------------------ emission

    def emit(self, p: P) -> None:
        if p.is_elder:
            self.emit_ps(p)
        if p.registered:
            self.emit_elders(p)
        for e in p.enrols:
            self.emit_benefit(p, e)
        for dep in p.deposits:
            self.emit_deposit(p, dep)
        for ml in p.meals:
            self.emit_meal(p, ml)
        self.emit_payments(p)
        for c in p.coins:
            self.emit_coin(p, c)
        if p.contract is not None:
            self.emit_contract(p)
        for h in p.hms:
            self.emit_hms(p, h)
        if p.dc:
            self.emit_death_cert(p)
        if p.ins:
            self.emit_insured(p)
        if p.ltc is not None:
            self.emit_ltc(p)
        for o in p.orders:
            self.emit_order(p, o)

    # -- common field noise -------------------------------------------------------

    def _allowed(self, p: P, base: int = ALL_BITS) -> int:
        return base & PROTECTED_OK if p.protect else base

    def _id(self, p: P, allowed_ids: int = ID_ALL) -> tuple[str, int]:
        if p.protect:
            return p.id18, 0
        return self.id_noise(p.rng, p.id18, allowed_ids)

    def _name(self, p: P, homophone: bool = False) -> tuple[str, int]:
        if p.protect:
            return p.name, 0
        return self.name_noise(p.rng, p.name, homophone)

    def _district(self, p: P, code: str) -> tuple[str, int]:
        if not p.protect and code in RETIRED_CODES and p.rng.random() < self.r_retired:
            return RETIRED_CODES[code], B["retired_area_code"]
        return code, 0

    def _phone(self, p: P, phone: str) -> tuple[str, int]:
        if phone and not p.protect and p.rng.random() < self.r_phone:
            return gc.phone_variant(phone, p.rng.random()), B["phone_format"]
        return phone, 0

    def _gender_contra(self, p: P) -> tuple[int, int]:
        if not p.protect and p.rng.random() < self.r_gender:
            return 3 - p.gender, B["gender_contradicts_id"]
        return p.gender, 0

    def _birth_contra(self, p: P) -> tuple[int, int]:
        if not p.protect and p.rng.random() < self.r_birth:
            return self.birth_noise(p.rng, p.birth), B["birth_contradicts_id"]
        return p.birth, 0

    def _future(self, p: P) -> int:
        return self.now_o + 30 + int(p.rng.random() * 400)

    # -- public security -------------------------------------------------------------

    def emit_ps(self, p: P) -> None:
        rng = p.rng
        r = rng.random
        t0 = self.ts(rng, self.rand_day(rng, PS_START, min(self.p0, p.end or self.p0) - 1))
        d = {
            "rid": p.psrid,
            "sfzh": p.id18,
            "xm": p.name,
            "xb": "1" if p.gender == 1 else "2",
            "csrq": d8(p.birth),
            "mz": p.mz,
            "hjdz": p.address,
            "xzqh": p.dcode,
            "hkzt": "0",
            "swrq": "",
            "gxsj": None,
        }
        versions = [(t0, None)]
        if p.ps_addr_change:
            old = p.address.replace("号", "号之一", 1)
            versions = [
                (t0, {"hjdz": old}),
                (self.ts(rng, self.rand_day(rng, p.act_from, p.act_to)), None),
            ]
        if p.death:
            d["hkzt"] = "1"
            d["swrq"] = d8(p.death)
            versions = [(t, dict(ov or {}, hkzt="0", swrq="")) for t, ov in versions]
            versions.append((self.ts(rng, p.death + 1 + int(r() * 20)), None))
        elif p.move:
            d["hkzt"] = "2"
            versions = [(t, dict(ov or {}, hkzt="0")) for t, ov in versions]
            versions.append((self.ts(rng, p.move + int(r() * 10)), None))
        mask = LATE_COMMIT if r() < self.nz.late_commit else 0
        self.put(p, R_PS, p.psrid, d, versions, mask, rng)

    # -- civil affairs ---------------------------------------------------------------

    def _elder_body(
        self, p: P, rid: str, dcode: str, town: str, village: str, address: str, phone: str
    ) -> tuple[dict, int]:
        idv, m1 = self._id(p)
        name, m2 = self._name(p)
        g, m3 = self._gender_contra(p)
        b, m4 = self._birth_contra(p)
        dc, m5 = self._district(p, dcode)
        ph, m6_ = self._phone(p, phone)
        d = {
            "record_id": rid,
            "updated_at": None,
            "deleted": False,
            "id_card_no": idv,
            "name": name,
            "gender": "男" if g == 1 else "女",
            "birth_date": dstr(b),
            "district_code": dc,
            "town": town,
            "village": village,
            "hukou_type": p.hukou,
            "phone": ph,
            "address": address,
            "assistance_type": p.assist,
            "left_behind": p.left_behind,
            "lives_alone": p.lives_alone,
            "lost_only_child": p.loc,
            "ability_level": p.L1,
            "ability_assessed_on": dstr(p.reass or p.assessed),
        }
        return d, m1 | m2 | m3 | m4 | m5 | m6_

    def emit_elders(self, p: P) -> None:
        rng = p.rng
        towns = TOWNS[p.dcode]
        d, mask = self._elder_body(p, p.erid, p.dcode, towns[p.town], p.village, p.address, p.phone)
        allowed = ~(NEGATIVE | MONEY_FMT)
        if p.meal_org is not None and any(e.prog == MEAL_DELIVERY for e in p.enrols):
            allowed &= ~FUTURE  # the assessment behind the delivery subsidy stays readable
        rec = self.rec_noise(rng, self._allowed(p, allowed))
        if rec & IMPOSSIBLE:
            d["birth_date"] = gc.impossible_date(p.birth, rng.random())
        if rec & FUTURE:
            d["ability_assessed_on"] = dstr(self._future(p))
        versions = [(self.ts(rng, p.reg), None)]
        if p.reass:
            versions = [
                (versions[0][0], {"ability_level": p.L0, "ability_assessed_on": dstr(p.assessed)}),
                (self.ts(rng, p.reass), None),
            ]
        self.put(p, R_EL, p.erid, d, versions, mask | rec, rng)
        # the same person registered again in another district
        dup = p.dup_elder
        if dup is None and not p.protect and rng.random() < self.r_dup:
            didx = (p.didx + 1 + int(rng.random() * (len(DISTRICT_CODES) - 1))) % len(
                DISTRICT_CODES
            )
            dcode = DISTRICT_CODES[didx]
            reg2 = min(p.reg + 30 + int(rng.random() * 700), self.now_o - 1)
            dup = (self.rid(p, R_EL), dcode, reg2)
        if dup is not None:
            rid2, dcode, reg2 = dup
            towns2 = TOWNS[dcode]
            t2 = int(rng.random() * len(towns2))
            road = ROADS[dcode][int(rng.random() * len(ROADS[dcode]))]
            addr = f"青岛市{DISTRICT_NAMES[dcode]}{road}{1 + int(rng.random() * 200)}号"
            phone = self.phone_of(rng) if rng.random() < 0.5 else p.phone
            d2, mask2 = self._elder_body(p, rid2, dcode, towns2[t2], road + "社区", addr, phone)
            rec2 = self.rec_noise(
                rng, self._allowed(p, ~(NEGATIVE | MONEY_FMT | IMPOSSIBLE | FUTURE))
            )
            self.put(
                p,
                R_EL,
                rid2,
                d2,
                [(self.ts(rng, reg2), None)],
                mask2 | rec2 | B["duplicate_registration"],
                rng,
            )

    def emit_benefit(self, p: P, e: E) -> None:
        rng = p.rng
        support = e.prog in SUPPORT_PROGRAMS
        idv, m1 = self._id(p, ID_SAFE if support else ID_ALL)
        dc, m2 = self._district(p, e.dcode)
        if e.status == "suspended":
            status = "suspended"
        elif e.end is not None and e.end < self.now_o:
            status = "ended"
        else:
            status = "active"
        d = {
            "record_id": e.rid,
            "updated_at": None,
            "deleted": False,
            "elder_record_id": e.erid,
            "id_card_no": idv,
            "program": e.prog,
            "district_code": dc,
            "provider_org_code": e.org,
            "start_date": dstr(e.start),
            "end_date": dstr(e.end) if e.end is not None else None,
            "status": status,
            "chosen_policy": e.chosen,
        }
        t0 = self.ts(rng, max(e.start - int(rng.random() * 10), p.reg or SYS_START))
        if status == "suspended":
            versions = [(t0, {"status": "active"}), (self.ts(rng, e.susp), None)]
        elif e.end is not None and (e.end_known or e.end >= self.now_o):
            versions = [(t0, {"status": "active"} if status != "active" else None)]
            if status != "active":
                versions.append((self.ts(rng, e.end + int(rng.random() * 10)), None))
        elif e.end is not None:
            versions = [
                (t0, {"status": "active", "end_date": None}),
                (self.ts(rng, e.end + int(rng.random() * 10)), None),
            ]
        else:
            versions = [(t0, None)]
        allowed = ~(NEGATIVE | MONEY_FMT | IMPOSSIBLE | FUTURE)
        if support:
            allowed &= ~(TOMB | TOMB_UNK)
        rec = self.rec_noise(rng, self._allowed(p, allowed))
        self.put(p, R_BN, e.rid, d, versions, m1 | m2 | rec, rng)

    def emit_deposit(self, p: P, dep: list) -> None:
        rng = p.rng
        rid, m, day, amount, sub, ctype, _settle, _e = dep
        idv, m1 = self._id(p)
        rec = self.rec_noise(rng, self._allowed(p, ~(NEGATIVE | IMPOSSIBLE | FUTURE)))
        short = bool(rec & MONEY_FMT)
        d = {
            "record_id": rid,
            "updated_at": None,
            "deleted": False,
            "card_no": p.card_no,
            "id_card_no": idv,
            "card_type": ctype,
            "month": mstr(m),
            "deposit_amount": money(amount, short),
            "subsidy_amount": money(sub, short),
        }
        self.put(p, R_CD, rid, d, [(self.ts(rng, day), None)], m1 | rec, rng)

    def emit_meal(self, p: P, ml: list) -> None:
        rng = p.rng
        rid, o, mtype, org, delivered, d10, sub, dsub = ml
        idv, m1 = self._id(p)
        dc, m2 = self._district(p, p.dcode)
        allowed = ALL_BITS
        if p.death or p.move:
            allowed &= ~FUTURE  # a future-dated meal of a dead person would read as a breach
        if sub <= 0:
            allowed &= ~NEGATIVE
        rec = self.rec_noise(rng, self._allowed(p, allowed))
        short = bool(rec & MONEY_FMT)
        if rec & NEGATIVE:
            sub = -sub
        if rec & IMPOSSIBLE:
            date_s = gc.impossible_date(o, rng.random())
            rec &= ~FUTURE
        elif rec & FUTURE:
            date_s = dstr(self._future(p))
        else:
            date_s = dstr(o)
        d = {
            "record_id": rid,
            "updated_at": None,
            "deleted": False,
            "id_card_no": idv,
            "org_code": org,
            "district_code": dc,
            "meal_date": date_s,
            "meal_type": mtype,
            "delivered": delivered,
            "delivery_distance_km": d10 / 10 if d10 is not None else None,
            "subsidy_amount": money(sub, short),
            "delivery_subsidy_amount": money(dsub, short),
        }
        h0 = 11 if mtype == "lunch" else 17
        t = self.ts(rng, o, h0, 22)
        if rng.random() < 0.1:
            t += DAY * (1 + int(rng.random() * 3))
        self.put(p, R_ML, rid, d, [(t, None)], m1 | m2 | rec, rng)

    def emit_payments(self, p: P) -> None:
        rng = p.rng
        r = rng.random
        items = []
        for e in p.enrols:
            if e.pay:
                for m, rid in e.pay.items():
                    paid = min(month_first(m + 1) + 1 + int(r() * 12), self.now_o - 1)
                    items.append((rid, e.prog, m, e.amount, e.org, paid))
        items.extend(p.settle)
        for rid, prog, m, amount, payee, paid in items:
            idv, m1 = self._id(p)
            allowed = ALL_BITS
            if p.death or p.move:
                allowed &= ~FUTURE
            rec = self.rec_noise(rng, self._allowed(p, allowed))
            short = bool(rec & MONEY_FMT)
            if rec & IMPOSSIBLE:
                paid_s = gc.impossible_date(paid, r())
                rec &= ~FUTURE
            elif rec & FUTURE:
                paid_s = dstr(self._future(p))
            else:
                paid_s = dstr(paid)
            d = {
                "record_id": rid,
                "updated_at": None,
                "deleted": False,
                "id_card_no": idv,
                "program": prog,
                "period": mstr(m),
                "amount": money(-amount if rec & NEGATIVE else amount, short),
                "payee_org_code": payee,
                "paid_on": paid_s,
            }
            self.put(p, R_SP, rid, d, [(self.ts(rng, paid, 9, 17), None)], m1 | rec, rng)

    def emit_coin(self, p: P, c: list) -> None:
        rng = p.rng
        rid, mon, hours = c
        idv, m1 = self._id(p, ID_SAFE)
        rec = self.rec_noise(rng, self._allowed(p, ~(NEGATIVE | MONEY_FMT | IMPOSSIBLE | FUTURE)))
        d = {
            "record_id": rid,
            "updated_at": None,
            "deleted": False,
            "id_card_no": idv,
            "week": iso_week(mon),
            "hours_granted": hours,
        }
        t = self.ts(rng, mon + 7, 8, 18)
        self.put(p, R_TB, rid, d, [(t, None)], m1 | rec, rng)

    # -- health ----------------------------------------------------------------------

    def _contract_record(
        self, p: P, rid: str, team: str, signings: list[int], extra_mask: int
    ) -> None:
        rng = p.rng
        if not p.protect and rng.random() < self.v.contract_empty_id_rate:
            idv, m1 = "", B["id_empty"]
        else:
            idv, m1 = self._id(p)
        name, m2 = self._name(p)
        g, m3 = self._gender_contra(p)
        b, m4 = self._birth_contra(p)
        rec = self.rec_noise(rng, self._allowed(p, ~(NEGATIVE | MONEY_FMT)))
        versions = []
        for s in signings:
            exp = add_years(s, 1) - 1
            versions.append(
                (
                    self.ts(rng, s),
                    {"signed_on": dstr(s), "expires_on": dstr(exp), "status": "active"},
                )
            )
        s = signings[-1]
        exp = add_years(s, 1) - 1
        final_status = "active"
        if p.death and p.death <= exp:
            final_status = "terminated"
            versions.append((self.ts(rng, p.death + 1 + int(rng.random() * 15)), None))
        elif exp < self.now_o:
            final_status = "expired"
            versions.append((self.ts(rng, exp + 1), None))
        else:
            versions[-1] = (versions[-1][0], None)
        d = {
            "record_id": rid,
            "updated_at": None,
            "deleted": False,
            "id_card_no": idv,
            "name": name,
            "gender": "男" if g == 1 else "女",
            "birth_date": dstr(b),
            "team_code": team,
            "signed_on": dstr(s),
            "expires_on": dstr(exp),
            "status": final_status,
        }
        if rec & IMPOSSIBLE:
            d["birth_date"] = gc.impossible_date(p.birth, rng.random())
        if rec & FUTURE:
            d["signed_on"] = dstr(self._future(p))
            versions = [(t, dict(ov, signed_on=d["signed_on"]) if ov else ov) for t, ov in versions]
        self.put(p, R_FC, rid, d, versions, m1 | m2 | m3 | m4 | rec | extra_mask, rng)

    def emit_contract(self, p: P) -> None:
        rid, team, signings, _renew_stop = p.contract
        self._contract_record(p, rid, team, signings, 0)
        if not p.protect and p.rng.random() < self.r_dup:
            teams = self.orgs.teams[p.dcode]
            team2 = teams[int(p.rng.random() * len(teams))]
            s2 = [min(s + 20 + int(p.rng.random() * 100), p.act_to) for s in signings[-1:]]
            self._contract_record(p, self.rid(p, R_FC), team2, s2, B["duplicate_registration"])

    def emit_hms(self, p: P, h: list) -> None:
        rng = p.rng
        rid, day, st, inst = h
        idv, m1 = self._id(p)
        allowed = ~(NEGATIVE | MONEY_FMT)
        if p.death or p.move:
            allowed &= ~FUTURE
        rec = self.rec_noise(rng, self._allowed(p, allowed))
        if rec & IMPOSSIBLE:
            ds = gc.impossible_date(day, rng.random())
            rec &= ~FUTURE
        elif rec & FUTURE:
            ds = dstr(self._future(p))
        else:
            ds = dstr(day)
        d = {
            "record_id": rid,
            "updated_at": None,
            "deleted": False,
            "id_card_no": idv,
            "service_type": st,
            "service_date": ds,
            "institution_code": inst,
        }
        self.put(p, R_HS, rid, d, [(self.ts(rng, day, 9, 20), None)], m1 | rec, rng)

    def emit_death_cert(self, p: P) -> None:
        rng = p.rng
        rid = self.rid(p, R_DC)
        idv, m1 = self._id(p)
        name, m2 = self._name(p)
        issued = p.death + int(rng.random() * 4)
        rec = self.rec_noise(rng, self._allowed(p, ~(NEGATIVE | MONEY_FMT)))
        if rec & IMPOSSIBLE:
            iss = gc.impossible_date(issued, rng.random())
            rec &= ~FUTURE
        elif rec & FUTURE:
            iss = dstr(self._future(p))
        else:
            iss = dstr(issued)
        d = {
            "record_id": rid,
            "updated_at": None,
            "deleted": False,
            "id_card_no": idv,
            "name": name,
            "date_of_death": dstr(p.death),
            "issued_on": iss,
        }
        self.put(p, R_DC, rid, d, [(self.ts(rng, issued, 8, 20), None)], m1 | m2 | rec, rng)

    # -- medical insurance -----------------------------------------------------------

    def _insured_record(
        self, p: P, rid: str, insutype: str, admdvs: str, t: int, extra: int
    ) -> None:
        rng = p.rng
        idv, m1 = self._id(p)
        name, m2 = self._name(p)
        g, m3 = self._gender_contra(p)
        b, m4 = self._birth_contra(p)
        adm, m5 = self._district(p, admdvs)
        rec = self.rec_noise(rng, self._allowed(p, ~(NEGATIVE | MONEY_FMT | FUTURE)))
        d = {
            "recordId": rid,
            "certno": idv,
            "psnName": name,
            "gend": "1" if g == 1 else "2",
            "brdy": gc.impossible_d8(p.birth, rng.random()) if rec & IMPOSSIBLE else d8(b),
            "insutype": insutype,
            "admdvs": adm,
            "updtTime": None,
            "valiFlag": "1",
        }
        self.put(p, R_IP, rid, d, [(t, None)], m1 | m2 | m3 | m4 | m5 | rec | extra, rng)

    def emit_insured(self, p: P) -> None:
        rng = p.rng
        r = rng.random
        if p.hukou == "urban":
            insutype = "310" if r() < 0.75 else "390"
        else:
            insutype = "390" if r() < 0.9 else "310"
        hi = min(self.p0, p.end or self.p0) - 1
        t = self.ts(rng, self.rand_day(rng, MI_START, hi))  # since 2012
        self._insured_record(p, self.rid(p, R_IP), insutype, p.dcode, t, 0)
        if not p.protect and r() < self.r_dup:
            other = "390" if insutype == "310" else "310"
            dcode = DISTRICT_CODES[(p.didx + 1) % len(DISTRICT_CODES)] if r() < 0.5 else p.dcode
            t2 = self.ts(rng, self.rand_day(rng, MI_START, hi))
            self._insured_record(
                p, self.rid(p, R_IP), other, dcode, t2, B["duplicate_registration"]
            )

    def emit_ltc(self, p: P) -> None:
        rng = p.rng
        lt = p.ltc
        idv, m1 = self._id(p)
        rec = self.rec_noise(rng, self._allowed(p, ~(NEGATIVE | MONEY_FMT | IMPOSSIBLE | FUTURE)))
        final_a, final_l = (lt.a2, lt.l2) if lt.a2 else (lt.a1, lt.l1)
        d = {
            "recordId": lt.rid,
            "certno": idv,
            "disabilityLevel": final_l,
            "assessedOn": d8(final_a),
            "careMode": lt.mode,
            "institutionCode": lt.inst,
            "begnDate": d8(lt.begn),
            "endDate": d8(lt.end) if lt.end else "",
            "updtTime": None,
            "valiFlag": "1",
        }
        first_ov: dict = {}
        versions = []
        if lt.a2:
            first_ov.update(disabilityLevel=lt.l1, assessedOn=d8(lt.a1))
        if lt.end:
            first_ov["endDate"] = ""
        versions.append((self.ts(rng, lt.begn), first_ov or None))
        if lt.a2:
            versions.append(
                (self.ts(rng, lt.a2 + int(rng.random() * 5)), {"endDate": ""} if lt.end else None)
            )
        if lt.end:
            versions.append((self.ts(rng, lt.end + 1 + int(rng.random() * 20)), None))
        self.put(p, R_LE, lt.rid, d, versions, m1 | rec, rng)
        for m, rid in sorted(lt.pay.items()):
            level = lt.l2 if (lt.a2 and month_first(m) >= lt.a2) else lt.l1
            fen = _LTC_FEN[level] + (20_000 if lt.mode == "institution" else 0)
            idv, m1 = self._id(p)
            rec = self.rec_noise(rng, self._allowed(p, ~(MONEY_FMT | IMPOSSIBLE | FUTURE)))
            d = {
                "recordId": rid,
                "certno": idv,
                "period": m6(m),
                "amountFen": -fen if rec & NEGATIVE else fen,
                "institutionCode": lt.inst,
                "updtTime": None,
                "valiFlag": "1",
            }
            day = min(month_first(m + 1) + 4 + int(rng.random() * 10), self.now_o - 1)
            self.put(p, R_LP, rid, d, [(self.ts(rng, day), None)], m1 | rec, rng)

    # -- property --------------------------------------------------------------------

    def emit_order(self, p: P, o: list) -> None:
        rng = p.rng
        r = rng.random
        rid, comp, day, st, price, claimed, sub = o
        mask = 0
        masked = p.id18[:6] + "********" + p.id18[14:]
        if not p.protect:
            if r() < 0.08:
                masked, mask = "", B["id_empty"]
            else:
                u = r()
                nz = self.nz
                if u < nz.id_empty:
                    masked, mask = "", B["id_empty"]
                elif masked[-1] == "X" and u < nz.id_empty + nz.id_lower_x:
                    masked, mask = masked[:-1] + "x", B["id_lower_x"]
                elif r() < nz.id_spaces:
                    masked, mask = masked + " ", B["id_spaces"]
        name, m2 = self._name(p, homophone=True)
        phone, m3 = self._phone(p, p.phone)
        by, m4 = self._birth_contra(p)
        birth_year = None if (not p.protect and r() < 0.2) else int(dstr(by)[:4])
        if birth_year is None:
            m4 = 0
        allowed = ALL_BITS
        if p.death or p.move:
            allowed &= ~FUTURE
        if not claimed:
            allowed &= ~NEGATIVE
        rec = self.rec_noise(rng, self._allowed(p, allowed))
        short = bool(rec & MONEY_FMT)
        if rec & IMPOSSIBLE:
            ds = gc.impossible_date(day, r())
            rec &= ~FUTURE
        elif rec & FUTURE:
            ds = dstr(self._future(p))
        else:
            ds = dstr(day)
        d = {
            "order_id": rid,
            "company_credit_code": comp.credit_code,
            "company_name": comp.name,
            "community_name": p.community,
            "building": p.building,
            "room": p.room,
            "resident_name": name,
            "resident_phone": phone,
            "resident_id_masked": masked,
            "resident_birth_year": birth_year,
            "service_type": st,
            "service_date": ds,
            "price": money(price, short),
            "subsidy_claimed": claimed,
            "subsidy_amount": money(-sub if rec & NEGATIVE else sub, short),
            "modified_at": None,
            "is_void": False,
        }
        self.put(
            p, R_SO, rid, d, [(self.ts(rng, day, 8, 21), None)], mask | m2 | m3 | m4 | rec, rng
        )


def resolve_ref(x) -> tuple[str, str, str]:
    """Evidence reference -> (platform, resource, record_id); payments are referenced by
    (enrolment or LTC, month) until they are derived."""
    res, ref = x
    if isinstance(ref, tuple):
        owner, m = ref
        ref = owner.pay[m]
    plat, name, _ = RESOURCES[res]
    return plat, name, ref


def delivery_band(d10: int) -> int:
    """Delivery subsidy in cents for a distance in tenths of a km (POLICY.md bands)."""
    if d10 <= 10:
        return 200
    if d10 <= 30:
        return 300
    return 400
