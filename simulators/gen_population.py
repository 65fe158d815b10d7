"""The population's core attributes, drawn for everyone at once with numpy.

Birth date, gender, district, hukou, life events and the ID number's sequence code are drawn
vectorised, because one thing needs the whole population: ID numbers must be unique, and
the three-digit sequence code (odd for men, even for women) is allocated per (area code,
birth date, gender) cell. Everything else about a person is drawn later from the
person's own random stream, so a person's records do not depend on how the population
is split into chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from simulators.gen_common import EPOCH_ORD, ORD_BASE, add_years
from simulators.gen_reference import DISTRICTS, ID_AREA_CODES, ID_AREAS

__all__ = ["STATUS_ALIVE", "STATUS_DEAD", "STATUS_MOVED", "Population", "draw_population"]

STATUS_ALIVE, STATUS_DEAD, STATUS_MOVED = 0, 1, 2

#: age (at the platforms' "now") bands of Qingdao's 60+ population and their shares
AGE_BANDS = [
    (60, 0.27),
    (65, 0.25),
    (70, 0.20),
    (75, 0.13),
    (80, 0.08),
    (85, 0.045),
    (90, 0.018),
    (95, 0.005),
    (100, 0.002),
]


@dataclass
class Population:
    """Column arrays, one entry per person (elders first, then non-elders)."""

    n_elders: int
    is_elder: np.ndarray  # bool
    district: np.ndarray  # index into DISTRICTS
    area: np.ndarray  # index into ID_AREA_CODES
    birth: np.ndarray  # ordinal
    d60: np.ndarray  # ordinal of the 60th birthday
    gender: np.ndarray  # 1 male, 2 female
    seq: np.ndarray  # ID sequence code
    rural: np.ndarray  # bool
    status: np.ndarray  # STATUS_*
    event: np.ndarray  # ordinal of death or moving out, 0 if none
    historic: np.ndarray  # bool: died/moved out before the period

    def __len__(self) -> int:
        return len(self.birth)


def _ord_to_m8(o: np.ndarray) -> np.ndarray:
    return (o - EPOCH_ORD).astype("M8[D]")


def _add_60_years(birth: np.ndarray) -> np.ndarray:
    b = _ord_to_m8(birth)
    bm = b.astype("M8[M]")
    dom = (b - bm.astype("M8[D]")).astype(np.int64)
    d60 = (bm + 720).astype("M8[D]") + dom  # 29 Feb + 60 years -> 1 March
    return d60.astype(np.int64) + EPOCH_ORD


def draw_population(
    *,
    elders: int,
    non_elders: int,
    seed: int,
    period_start: date,
    period_end: date,
    now: date,
    historic_dead_rate: float,
    historic_moved_rate: float,
    death_rate_scale: float,
    moved_out_rate: float,
) -> Population:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x9E37]))
    n, m = elders, non_elders
    total = n + m
    p0, p1, now_o = period_start.toordinal(), period_end.toordinal(), now.toordinal()
    sixty_ago = add_years(now_o, -60)

    # ---- birth dates
    band_lo = np.array([b for b, _ in AGE_BANDS], dtype=np.float64)
    band_w = np.array([w for _, w in AGE_BANDS])
    band = rng.choice(len(AGE_BANDS), size=n, p=band_w / band_w.sum())
    age = band_lo[band] + rng.random(n) * 5.0
    birth_e = now_o - np.floor(age * 365.2425).astype(np.int64)
    birth_e = np.minimum(birth_e, sixty_ago)  # 60 or over at "now"
    age_ne = 30.0 + rng.random(m) * 29.9
    birth_n = now_o - np.floor(age_ne * 365.2425).astype(np.int64)
    birth_n = np.maximum(birth_n, sixty_ago + 1)  # under 60 at "now"
    birth = np.concatenate([birth_e, birth_n])
    d60 = _add_60_years(birth)
    is_elder = np.zeros(total, dtype=bool)
    is_elder[:n] = True

    # ---- gender: women outlive men
    age_all = (now_o - birth) / 365.2425
    p_f = np.where(is_elder, np.clip(0.5 + 0.005 * (age_all - 60), 0.45, 0.75), 0.5)
    gender = np.where(rng.random(total) < p_f, 2, 1).astype(np.int8)

    # ---- district, ID area code, hukou
    dw = np.array([d[2] for d in DISTRICTS])
    urban_w = dw * np.array([1.0 - d[3] for d in DISTRICTS])
    district = np.concatenate(
        [
            rng.choice(len(DISTRICTS), size=n, p=dw / dw.sum()),
            rng.choice(len(DISTRICTS), size=m, p=urban_w / urban_w.sum()),
        ]
    ).astype(np.int16)
    area = np.empty(total, dtype=np.int16)
    u = rng.random(total)
    for di, (code, _name, _w, _r) in enumerate(DISTRICTS):
        sel = district == di
        acc = 0.0
        choice = np.full(sel.sum(), ID_AREA_CODES.index(ID_AREAS[code][-1][0]), dtype=np.int16)
        us = u[sel]
        done = np.zeros(sel.sum(), dtype=bool)
        for a, w in ID_AREAS[code]:
            acc += w
            hit = (~done) & (us < acc)
            choice[hit] = ID_AREA_CODES.index(a)
            done |= hit
        area[sel] = choice
    rural_share = np.array([d[3] for d in DISTRICTS])[district]
    rural = rng.random(total) < rural_share

    # ---- life events (elders only)
    status = np.zeros(total, dtype=np.int8)
    event = np.zeros(total, dtype=np.int64)
    historic = np.zeros(total, dtype=bool)
    five_ago = add_years(now_o, -5)
    cat = rng.random(n)
    lo = np.maximum(five_ago, d60[:n])
    hi = p0 - 1
    span = hi - lo
    ok = span >= 0
    ev = lo + np.floor(rng.random(n) * (np.maximum(span, 0) + 1)).astype(np.int64)
    h_dead = ok & (cat < historic_dead_rate)
    h_moved = ok & (cat >= historic_dead_rate) & (cat < historic_dead_rate + historic_moved_rate)
    status[:n][h_dead] = 1
    status[:n][h_moved] = 2
    event[:n][h_dead | h_moved] = ev[h_dead | h_moved]
    historic[:n] = h_dead | h_moved

    # in-period deaths (~3 %/year overall, rising with age) and moves out of the city
    active = ~historic[:n]
    a0 = (p0 - birth[:n]) / 365.2425
    years = (p1 - p0 + 1) / 365.2425
    q = np.clip(0.01 * death_rate_scale * np.exp(0.085 * (a0 - 60)), 0, 0.9)
    p_die = 1 - np.exp(-q * years)
    lo = np.maximum(p0, d60[:n])
    span = p1 - lo
    can = active & (span >= 0)
    ev = lo + np.floor(rng.random(n) * (np.maximum(span, 0) + 1)).astype(np.int64)
    r = rng.random(n)
    die = can & (r < p_die)
    move = can & ~die & (r < p_die + moved_out_rate)
    status[:n][die] = 1
    status[:n][move] = 2
    event[:n][die | move] = ev[die | move]

    # ---- ID sequence codes, unique per (area, birth date, gender)
    key = (area.astype(np.int64) * 100_000 + (birth - ORD_BASE)) * 2 + (gender - 1)
    order = np.argsort(key, kind="stable")
    ks = key[order]
    starts = np.ones(total, dtype=bool)
    starts[1:] = ks[1:] != ks[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(total), 0))
    rank_sorted = np.arange(total) - first
    if total and rank_sorted.max() >= 499:
        raise ValueError("population too dense for unique ID sequence codes")
    rank = np.empty(total, dtype=np.int64)
    rank[order] = rank_sorted
    slot = (rank * 211 + (key * 7919 + seed % 499) % 499) % 499
    seq = np.where(gender == 1, 2 * slot + 1, 2 * slot + 2).astype(np.int16)

    return Population(
        n_elders=n,
        is_elder=is_elder,
        district=district,
        area=area,
        birth=birth,
        d60=d60,
        gender=gender,
        seq=seq,
        rural=rural,
        status=status,
        event=event,
        historic=historic,
    )
