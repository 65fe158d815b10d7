"""Planting POLICY.md breaches into a clean plan.

Each rule has an eligibility test (does this person's clean plan give the rule something
to break?) and a planter that changes the plan and records the expected finding(s) with
POLICY.md's period grain: the month for card, home-care, operator and monthly after-death
items; the date for meal, delivery and property items (one finding per meal or order); the
ISO week for time coins; ``YYYY-MM..YYYY-MM`` per continuous episode for
DUPLICATE_ENROLMENT, CENTRALIZED_AND_HOME_CARE and MISSED_SUPPORT.

A person gets at most one planted rule (rules are tried rarest first), and a planted
person's records are then generated without identity-breaking noise.
"""

from __future__ import annotations

from simulators import gen_common as gc
from simulators.gen_common import dstr, iso_week, monday_of, month_first, month_last, month_of, mstr
from simulators.gen_person import (
    BED,
    BED_OP,
    CARD1,
    CARD2,
    CENTRAL,
    HOME,
    MEAL_AID,
    MEAL_DELIVERY,
    R_BN,
    R_CD,
    R_EL,
    R_LP,
    R_ML,
    R_PS,
    R_SO,
    R_SP,
    R_TB,
    TIME_BANK,
    E,
    P,
    PersonGen,
    delivery_band,
)
from simulators.gen_reference import DISTRICT_CODES

__all__ = ["RULES", "plant"]

RULES = (
    "CARD_AND_FAMILY_BED",
    "HOME_CARE_AND_CARD",
    "HOME_CARE_OPERATOR_BED_SUBSIDY",
    "CARD_SUBSIDY_WITHOUT_DEPOSIT",
    "MEAL_UNDER_AGE",
    "MEAL_NON_WORKING_DAY",
    "MEAL_NOT_LUNCH",
    "MEAL_DUPLICATE",
    "DELIVERY_INELIGIBLE",
    "PAID_AFTER_DEATH",
    "DUPLICATE_ENROLMENT",
    "CENTRALIZED_AND_HOME_CARE",
    "TIME_BANK_OVER_GRANT",
    "PROPERTY_SUBSIDY_INELIGIBLE",
    "PRICE_NOT_AS_PUBLISHED",
    "MISSED_SUPPORT",
    "MISSED_TIME_BANK",
)


def _period(a: int, b: int) -> str:
    return f"{mstr(a)}..{mstr(b)}"


def _alive(p: P) -> bool:
    """Alive and resident at 'now', an elder for the whole period."""
    return p.end == 0 and p.active


def _whole(g: PersonGen, p: P) -> bool:
    return p.d60 < g.p0 and (not p.registered or p.reg < g.p0)


def _held_months(g: PersonGen, p: P, e: E) -> tuple[int, int, int, int]:
    s, t = e.held_range(p.act_from, p.act_to)
    if s > t:
        return s, t, 0, -1
    return s, t, month_of(s), month_of(t)


def _pick(p: P, seq):
    return seq[int(p.rng.random() * len(seq))]


def _months_run(p: P, a: int, b: int, longest: int = 3) -> tuple[int, int]:
    """A run of 1..longest months inside [a, b]."""
    r = p.rng.random
    n = min(longest, b - a + 1)
    k = 1 + int(r() * n)
    start = a + int(r() * (b - a + 1 - k + 1))
    return start, start + k - 1


def _add(p: P, rule: str, period: str, evidence: list, org: str | None = None) -> None:
    p.breaches.append((rule, org, period, evidence))


# --------------------------------------------------------------------------- support


def _support_whole(g: PersonGen, p: P) -> E | None:
    e = p.support
    if e is None or e.status == "suspended" or e.end is not None or e.start >= g.p0:
        return None
    return e


def elig_missed_support(g, p):
    return (
        p.elig
        and _alive(p)
        and _whole(g, p)
        and _support_whole(g, p) is not None
        and g.m1 - g.m0 >= 5
    )


def do_missed_support(g, p):
    e = _support_whole(g, p)
    r = p.rng.random
    ma = g.m0 + 1 + int(r() * (g.m1 - g.m0 - 4))
    gap_end = month_first(ma) + int(r() * 25)
    e.end = gap_end
    if r() < 0.7 and ma + 2 <= g.m1:
        mb = min(g.m1, ma + 2 + int(r() * 4))
        e2 = E(
            g.rid(p, R_BN),
            e.prog,
            month_first(mb) + int(r() * 10),
            None,
            e.org,
            e.dcode,
            e.erid,
            amount=e.amount,
        )
        p.enrols.append(e2)
        last = mb - 1
    else:
        last = g.lcm
    if last < ma + 1:
        return False
    _add(p, "MISSED_SUPPORT", _period(ma + 1, last), [(R_EL, p.erid), (R_BN, e.rid)])
    return True


def elig_central_home(g, p):
    return p.centralized and _alive(p) and _whole(g, p) and _support_whole(g, p) is not None


def do_central_home(g, p):
    r = p.rng.random
    central = p.support
    if g.p1 - g.p0 < 200:
        return False
    s = g.rand_day(p.rng, g.p0 + 15, g.p1 - 160)
    end = s + 30 + int(r() * 120)
    org = _pick(p, g.orgs.providers[p.dcode])
    e = E(g.rid(p, R_BN), HOME, s, end, org, p.dcode, p.erid, amount=40_000)
    e.end_known = True
    p.enrols.append(e)
    _add(
        p,
        "CENTRALIZED_AND_HOME_CARE",
        _period(month_of(s), month_of(end)),
        [(R_BN, central.rid), (R_BN, e.rid)],
    )
    return True


# --------------------------------------------------------------------------- death


def _after_death_options(g, p):
    if not (p.death and p.active):
        return []
    dm = month_of(p.death)
    opts = []
    if dm < g.m1:
        for e in p.enrols:
            if e.prog in (HOME, BED, BED_OP, CENTRAL) and e.end == p.death and e.status is None:
                opts.append(("pay", e))
        if (
            p.card is not None
            and p.card.end == p.death
            and p.card.status is None
            and any(d[4] > 0 for d in p.deposits)
        ):
            opts.append(("card", p.card))
        if p.ltc is not None and p.ltc.end == p.death:
            opts.append(("ltc", p.ltc))
    if p.meals and p.d70 <= p.death and any(gc.working(o) for o in range(p.death + 1, g.p1)):
        opts.append(("meal", None))
    if p.coins and monday_of(p.death) + 7 <= g.last_monday:
        opts.append(("coin", None))
    return opts


def elig_after_death(g, p):
    return bool(_after_death_options(g, p))


def do_after_death(g, p):
    r = p.rng.random
    kind, obj = _pick(p, _after_death_options(g, p))
    dm = month_of(p.death)
    ps = (R_PS, p.psrid)
    if kind == "pay":
        obj.extra.append(dm + 1)
        _add(p, "PAID_AFTER_DEATH", mstr(dm + 1), [(R_SP, (obj, dm + 1)), ps])
    elif kind == "ltc":
        obj.extra.append(dm + 1)
        _add(p, "PAID_AFTER_DEATH", mstr(dm + 1), [(R_LP, (obj, dm + 1)), ps])
    elif kind == "card":
        m = dm + 1
        day = month_first(m) + int(r() * 9)
        ctype = 1 if obj.prog == CARD1 else 2
        dep, sub = (15_000, 5_000) if ctype == 1 else (25_000, 12_000)
        rid = g.rid(p, R_CD)
        p.deposits.append([rid, m, day, dep, sub, ctype, False, obj])
        _add(p, "PAID_AFTER_DEATH", mstr(m), [(R_CD, rid), ps])
    elif kind == "meal":
        days = [o for o in range(p.death + 1, g.p1 + 1) if gc.working(o)][:10]
        o = _pick(p, days)
        deliv = [m for m in p.meals if m[4]]
        rid = g.rid(p, R_ML)
        if deliv:
            d10 = deliv[0][5]
            p.meals.append([rid, o, "lunch", deliv[0][3], True, d10, 300, delivery_band(d10)])
        else:
            p.meals.append([rid, o, "lunch", p.meal_org, False, None, 300, 0])
        _add(p, "PAID_AFTER_DEATH", dstr(o), [(R_ML, rid), ps])
    else:
        mon = monday_of(p.death) + 7
        rid = g.rid(p, R_TB)
        p.coins.append([rid, mon, 4])
        _add(p, "PAID_AFTER_DEATH", iso_week(mon), [(R_TB, rid), ps])
    return True


# --------------------------------------------------------------------------- home care


def _home_months(g, p):
    if not p.home or p.support is None:
        return None
    s, t, a, b = _held_months(g, p, p.support)
    if b - a < 2:
        return None
    return s, t, a, b


def elig_home_operator(g, p):
    return _home_months(g, p) is not None


def do_home_operator(g, p):
    s, t, a, b = _home_months(g, p)
    ma, mb = _months_run(p, a, b)
    home = p.support
    start, end = max(month_first(ma), s), min(month_last(mb), t)
    op = E(g.rid(p, R_BN), BED_OP, start, end, home.org, p.dcode, p.erid, amount=30_000)
    op.end_known = True
    p.enrols.append(op)
    for m in range(ma, mb + 1):
        _add(
            p,
            "HOME_CARE_OPERATOR_BED_SUBSIDY",
            mstr(m),
            [(R_BN, home.rid), (R_BN, op.rid), (R_SP, (op, m))],
            org=home.org,
        )
    return True


def elig_home_card(g, p):
    return _home_months(g, p) is not None and p.card is None


def do_home_card(g, p):
    s, t, a, b = _home_months(g, p)
    ma, mb = _months_run(p, a, b)
    start, end = max(month_first(ma), s), min(month_last(mb), t)
    centre = g.orgs.centres[p.dcode][p.town]
    e = E(g.rid(p, R_BN), CARD1, start, end, centre, p.dcode, p.erid)
    e.end_known = True
    p.enrols.append(e)
    p.card = e
    p.card_type = 1
    p.card_no = f"37{p.dcode[2:]}{int(p.rng.random() * 1e10):010d}"
    deps = g.add_deposits(p, e, start, end, 1, subsidise=True, skip=0.0, low=0.0)
    for dep in deps:
        _add(p, "HOME_CARE_AND_CARD", mstr(dep[1]), [(R_CD, dep[0]), (R_BN, p.support.rid)])
    return bool(deps)


# --------------------------------------------------------------------------- cards


def _subsidised_runs(g, p):
    """Consecutive months of subsidised deposits of a type-2 card_subsidy holder."""
    e = p.card
    if e is None or e.prog != CARD2 or e.chosen != "card_subsidy" or e.status is not None:
        return []
    months = sorted(d[1] for d in p.deposits if d[4] > 0 and d[7] is e)
    return months


def elig_card_bed(g, p):
    return not p.fam_bed and bool(_subsidised_runs(g, p))


def do_card_bed(g, p):
    months = _subsidised_runs(g, p)
    m = _pick(p, months)
    run = [m]
    while len(run) < 3 and run[-1] + 1 in months and p.rng.random() < 0.6:
        run.append(run[-1] + 1)
    ma, mb = run[0], run[-1]
    start = max(month_first(ma), p.act_from, p.card.start)
    end = min(month_last(mb), p.act_to)
    inst = _pick(p, g.orgs.institutions[p.dcode])
    bed = E(g.rid(p, R_BN), BED, start, end, inst, p.dcode, p.erid, amount=20_000)
    op = E(g.rid(p, R_BN), BED_OP, start, end, inst, p.dcode, p.erid, amount=30_000)
    bed.end_known = op.end_known = True
    p.enrols.extend([bed, op])
    by_month = {d[1]: d for d in p.deposits if d[7] is p.card}
    for mm in range(ma, mb + 1):
        _add(
            p,
            "CARD_AND_FAMILY_BED",
            mstr(mm),
            [(R_CD, by_month[mm][0]), (R_BN, bed.rid), (R_SP, (bed, mm))],
        )
    return True


def elig_card_deposit(g, p):
    return any(d[4] > 0 for d in p.deposits)


def do_card_deposit(g, p):
    r = p.rng.random
    dep = _pick(p, [d for d in p.deposits if d[4] > 0])
    ctype = dep[5]
    thr = 10_000 if ctype == 1 else 20_000
    if r() < 0.5:
        dep[3] = (3 + int(r() * (thr // 1000 - 3))) * 1000  # below the threshold
    else:
        dep[4] = (8_000 if r() < 0.5 else 3_000) if ctype == 1 else (5_000 if r() < 0.5 else 15_000)
    _add(p, "CARD_SUBSIDY_WITHOUT_DEPOSIT", mstr(dep[1]), [(R_CD, dep[0])])
    return True


# --------------------------------------------------------------------------- meals


def _lunch_days(p):
    return {m[1] for m in p.meals if m[2] == "lunch"}


def elig_meal_under_age(g, p):
    return any(m[2] == "lunch" and m[1] < p.d70 and gc.working(m[1]) and m[6] == 0 for m in p.meals)


def do_meal_under_age(g, p):
    m = _pick(
        p,
        [m for m in p.meals if m[2] == "lunch" and m[1] < p.d70 and gc.working(m[1]) and m[6] == 0],
    )
    m[6] = 300
    _add(p, "MEAL_UNDER_AGE", dstr(m[1]), [(R_ML, m[0])])
    return True


def _eater(p):
    return p.meal_org is not None and any(not m[4] for m in p.meals)


def _rest_days(g, p):
    lo = max(p.d70, p.act_from)
    return [o for o in range(lo, p.act_to + 1) if not gc.working(o)]


def elig_meal_rest(g, p):
    return _eater(p) and p.d70 <= p.act_to and bool(_rest_days(g, p))


def do_meal_rest(g, p):
    o = _pick(p, _rest_days(g, p))
    same = [m for m in p.meals if m[1] == o and m[2] == "lunch"]
    if same:
        m = same[0]
        m[6] = 300
        rid = m[0]
    else:
        rid = g.rid(p, R_ML)
        p.meals.append([rid, o, "lunch", p.meal_org, False, None, 300, 0])
    _add(p, "MEAL_NON_WORKING_DAY", dstr(o), [(R_ML, rid)])
    return True


def elig_meal_dinner(g, p):
    return _eater(p) and p.d70 <= p.act_to


def do_meal_dinner(g, p):
    days = [o for o in range(max(p.d70, p.act_from), p.act_to + 1) if gc.working(o)]
    if not days:
        return False
    o = _pick(p, days)
    same = [m for m in p.meals if m[1] == o and m[2] == "dinner"]
    if same:
        same[0][6] = 300
        rid = same[0][0]
    else:
        rid = g.rid(p, R_ML)
        p.meals.append([rid, o, "dinner", p.meal_org, False, None, 300, 0])
    _add(p, "MEAL_NOT_LUNCH", dstr(o), [(R_ML, rid)])
    return True


def elig_meal_dup(g, p):
    return any(m[2] == "lunch" and m[6] > 0 for m in p.meals)


def do_meal_dup(g, p):
    m = _pick(p, [m for m in p.meals if m[2] == "lunch" and m[6] > 0])
    towns = g.orgs.canteens[p.dcode]
    other = _pick(
        p,
        towns[(p.town + 1 + int(p.rng.random() * (len(towns) - 1))) % len(towns)]
        if len(towns) > 1
        else towns[p.town],
    )
    rid = g.rid(p, R_ML)
    p.meals.append([rid, m[1], "lunch", other, False, None, 300, 0])
    _add(p, "MEAL_DUPLICATE", dstr(m[1]), [(R_ML, m[0]), (R_ML, rid)])
    return True


def elig_delivery(g, p):
    if any(m[4] for m in p.meals):
        return True
    return (
        p.registered
        and p.L0 <= 1
        and not p.reass
        and p.ltc is None
        and any(m[2] == "lunch" and not m[4] for m in p.meals)
    )


def do_delivery(g, p):
    r = p.rng.random
    deliv = [m for m in p.meals if m[4]]
    if deliv:
        m = _pick(p, deliv)
        good = delivery_band(m[5])
        m[7] = _pick(p, [c for c in (200, 300, 400, 500) if c != good])
        _add(p, "DELIVERY_INELIGIBLE", dstr(m[1]), [(R_ML, m[0])])
    else:
        m = _pick(p, [m for m in p.meals if m[2] == "lunch" and not m[4]])
        d10 = 3 + int(r() * 58)
        m[4], m[5], m[7] = True, d10, delivery_band(d10)
        _add(p, "DELIVERY_INELIGIBLE", dstr(m[1]), [(R_ML, m[0]), (R_EL, p.erid)])
    return True


# --------------------------------------------------------------------------- time bank


def elig_missed_tb(g, p):
    return _alive(p) and _whole(g, p) and len(p.coins) > 14


def do_missed_tb(g, p):
    r = p.rng.random
    k = 1 + int(r() * 3)
    i = 5 + int(r() * (len(p.coins) - 10 - k))
    gone = p.coins[i : i + k]
    del p.coins[i : i + k]
    for c in gone:
        _add(p, "MISSED_TIME_BANK", iso_week(c[1]), [(R_EL, p.erid)])
    return True


def elig_tb_over(g, p):
    if p.coins:
        return True
    return (
        p.registered
        and p.hukou == "rural"
        and not p.left_behind
        and p.lives_alone
        and not p.centralized
        and _alive(p)
        and g.last_monday - monday_of(p.act_from) > 28
    )


def do_tb_over(g, p):
    r = p.rng.random
    if p.coins:
        c = _pick(p, p.coins)
        if r() < 0.5:
            c[2] = 8
            _add(p, "TIME_BANK_OVER_GRANT", iso_week(c[1]), [(R_TB, c[0])])
        else:
            rid = g.rid(p, R_TB)
            p.coins.append([rid, c[1], 4])
            _add(p, "TIME_BANK_OVER_GRANT", iso_week(c[1]), [(R_TB, c[0]), (R_TB, rid)])
        return True
    first = monday_of(p.act_from) + 7
    weeks = sorted(
        {first + 7 * int(r() * ((g.last_monday - first) // 7 + 1)) for _ in range(1 + int(r() * 3))}
    )
    for mon in weeks:
        rid = g.rid(p, R_TB)
        p.coins.append([rid, mon, 4])
        _add(p, "TIME_BANK_OVER_GRANT", iso_week(mon), [(R_TB, rid), (R_EL, p.erid)])
    return True


# --------------------------------------------------------------------------- property


def _ensure_company(g, p):
    if p.company is None:
        r = p.rng.random
        comps = g.orgs.companies[p.dcode]
        comp = comps[int(r() * len(comps))]
        p.company = comp
        p.community = comp.communities[int(r() * len(comp.communities))]
        p.building = f"{1 + int(r() * 30)}号楼"
        p.room = f"{1 + int(r() * 4)}单元{1 + int(r() * 18)}0{1 + int(r() * 4)}"
    return p.company


def elig_property(g, p):
    if not p.is_elder:
        return bool(p.orders)
    return bool(p.death and p.active and p.death < g.p1 - 3)


def do_property(g, p):
    r = p.rng.random
    if not p.is_elder:
        o = _pick(p, p.orders)
        o[5] = True
        o[6] = max(1_000, min(o[4] // 2 // 100 * 100, 3_000))
        _add(p, "PROPERTY_SUBSIDY_INELIGIBLE", dstr(o[2]), [(R_SO, o[0])], org=o[1].credit_code)
        return True
    comp = _ensure_company(g, p)
    day = p.death + 1 + int(r() * min(30, g.p1 - p.death - 1))
    st = _pick(p, list(comp.prices))
    price = comp.prices[st]
    sub = max(1_000, min(price // 2 // 100 * 100, 3_000))
    rid = g.rid(p, R_SO)
    p.orders.append([rid, comp, day, st, price, True, sub])
    _add(
        p,
        "PROPERTY_SUBSIDY_INELIGIBLE",
        dstr(day),
        [(R_SO, rid), (R_PS, p.psrid)],
        org=comp.credit_code,
    )
    return True


def elig_price(g, p):
    return bool(p.orders)


def do_price(g, p):
    r = p.rng.random
    o = _pick(p, p.orders)
    comp = o[1]
    if comp.unlisted is not None and r() < 0.3:
        o[3] = comp.unlisted
        o[4] = (30 + int(r() * 60)) * 100
    else:
        delta = (5 + int(r() * 26)) * 100
        if r() < 0.5 and o[4] - delta > 0:
            delta = -delta
        o[4] += delta
    if o[5]:
        o[6] = max(1_000, min(o[4] // 2 // 100 * 100, 3_000))
    _add(p, "PRICE_NOT_AS_PUBLISHED", dstr(o[2]), [(R_SO, o[0])], org=comp.credit_code)
    return True


# --------------------------------------------------------------------------- enrolments


def _dup_candidates(g, p):
    if not (p.registered and _alive(p)):
        return []
    out = []
    for e in p.enrols:
        if e.status is not None:
            continue
        s, t, _a, _b = _held_months(g, p, e)
        if t - s >= 120:
            out.append(e)
    return out


def elig_dup_enrol(g, p):
    return bool(_dup_candidates(g, p))


def do_dup_enrol(g, p):
    r = p.rng.random
    e = _pick(p, _dup_candidates(g, p))
    s, t, _a, _b = _held_months(g, p, e)
    s2 = g.rand_day(p.rng, s, t - 60)
    end = s2 + 30 + int(r() * min(150, t - s2 - 30))
    other = DISTRICT_CODES[(DISTRICT_CODES.index(p.dcode) + 1 + int(r() * 9)) % 10]
    orgs = g.orgs
    if e.prog in (CARD1, CARD2, TIME_BANK):
        org = _pick(p, orgs.centres[other])
    elif e.prog in (MEAL_AID, MEAL_DELIVERY):
        org = _pick(p, _pick(p, orgs.canteens[other]))
    elif e.prog == HOME:
        org = _pick(p, orgs.providers[other])
    else:
        org = _pick(p, orgs.institutions[other])
    erid = p.erid
    if r() < 0.5:
        erid = g.rid(p, R_EL)
        reg2 = max(p.reg + 1, s2 - int(r() * 30))
        p.dup_elder = (erid, other, reg2)
    e2 = E(g.rid(p, R_BN), e.prog, s2, end, org, other, erid, chosen=e.chosen, amount=e.amount)
    e2.end_known = True
    p.enrols.append(e2)
    _add(
        p,
        "DUPLICATE_ENROLMENT",
        _period(month_of(s2), month_of(end)),
        [(R_BN, e.rid), (R_BN, e2.rid)],
    )
    return True


# --------------------------------------------------------------------------- driver

#: tried in this order (rarest pools first); a person gets at most one
PLANTERS = [
    ("CENTRALIZED_AND_HOME_CARE", elig_central_home, do_central_home),
    ("MISSED_SUPPORT", elig_missed_support, do_missed_support),
    ("PAID_AFTER_DEATH", elig_after_death, do_after_death),
    ("HOME_CARE_OPERATOR_BED_SUBSIDY", elig_home_operator, do_home_operator),
    ("HOME_CARE_AND_CARD", elig_home_card, do_home_card),
    ("CARD_AND_FAMILY_BED", elig_card_bed, do_card_bed),
    ("DELIVERY_INELIGIBLE", elig_delivery, do_delivery),
    ("MISSED_TIME_BANK", elig_missed_tb, do_missed_tb),
    ("TIME_BANK_OVER_GRANT", elig_tb_over, do_tb_over),
    ("MEAL_UNDER_AGE", elig_meal_under_age, do_meal_under_age),
    ("MEAL_NON_WORKING_DAY", elig_meal_rest, do_meal_rest),
    ("MEAL_NOT_LUNCH", elig_meal_dinner, do_meal_dinner),
    ("MEAL_DUPLICATE", elig_meal_dup, do_meal_dup),
    ("PROPERTY_SUBSIDY_INELIGIBLE", elig_property, do_property),
    ("PRICE_NOT_AS_PUBLISHED", elig_price, do_price),
    ("CARD_SUBSIDY_WITHOUT_DEPOSIT", elig_card_deposit, do_card_deposit),
    ("DUPLICATE_ENROLMENT", elig_dup_enrol, do_dup_enrol),
]
assert sorted(r for r, _, _ in PLANTERS) == sorted(RULES)


def plant(g: PersonGen, p: P) -> None:
    rate = g.cfg.breach_rate
    r = p.rng.random
    for _rule, elig, do in PLANTERS:
        if r() < rate and elig(g, p):
            if do(g, p):
                p.protect = True
            else:
                p.breaches.clear()
            return
