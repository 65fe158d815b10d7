"""Fast formatting tables and noise transforms shared by the generator modules.

Dates are handled as proleptic ordinals (``date.toordinal()``), months as ``year*12 +
month - 1`` and times as epoch seconds; strings come from precomputed tables, so that
formatting a timestamp costs two list look-ups.
"""

from __future__ import annotations

from datetime import date

from simulators.gen_reference import (
    DOT_VARIANTS,
    HOMOPHONES,
    MIDDLE_DOT,
    RETIRED_CODES,
    TRAD,
    id_check_char,
    is_working_day,
)

__all__ = ["NOISE_BIT", "NOISE_KINDS", "noise_names"]

# --------------------------------------------------------------------------- noise kinds

#: every noise kind, in bit order (the names of NoiseConfig's rate fields)
NOISE_KINDS: tuple[str, ...] = (
    "id_legacy15",
    "id_lower_x",
    "id_fullwidth",
    "id_spaces",
    "id_bad_check",
    "id_transposed",
    "id_empty",
    "name_spaces",
    "name_fullwidth",
    "name_traditional",
    "name_dot_variant",
    "name_homophone",
    "gender_contradicts_id",
    "birth_contradicts_id",
    "retired_area_code",
    "phone_format",
    "duplicate_registration",
    "impossible_date",
    "future_date",
    "negative_amount",
    "late_update",
    "resend",
    "tombstone",
    "tombstone_unknown",
    "late_commit",
    "money_format",
)
NOISE_BIT = {k: 1 << i for i, k in enumerate(NOISE_KINDS)}
#: ID noise that leaves no trustworthy number (cannot be normalised back)
ID_BROKEN = NOISE_BIT["id_bad_check"] | NOISE_BIT["id_transposed"] | NOISE_BIT["id_empty"]
DATE_BROKEN = NOISE_BIT["impossible_date"] | NOISE_BIT["future_date"]


def noise_names(mask: int) -> list[str]:
    """The noise kinds in a bit mask, in canonical order."""
    if not mask:
        return []
    return [k for i, k in enumerate(NOISE_KINDS) if mask >> i & 1]


def noise_mask(names) -> int:
    m = 0
    for n in names:
        m |= NOISE_BIT[n]
    return m


# --------------------------------------------------------------------------- time tables

ORD_BASE = date(1900, 1, 1).toordinal()
ORD_END = date(2040, 1, 1).toordinal()
EPOCH_ORD = date(1970, 1, 1).toordinal()
TZ_OFFSET = 8 * 3600

DSTR: list[str] = []  # "YYYY-MM-DD" by ordinal - ORD_BASE
D8: list[str] = []  # "YYYYMMDD"
for _o in range(ORD_BASE, ORD_END):
    _s = date.fromordinal(_o).isoformat()
    DSTR.append(_s)
    D8.append(_s[0:4] + _s[5:7] + _s[8:10])

TSTR = [f"T{h:02d}:{m:02d}:{s:02d}+08:00" for h in range(24) for m in range(60) for s in range(60)]
HMS6 = [f"{h:02d}{m:02d}{s:02d}" for h in range(24) for m in range(60) for s in range(60)]
MSTR_BASE = 1900 * 12
MSTR = [f"{m // 12}-{m % 12 + 1:02d}" for m in range(MSTR_BASE, 2040 * 12)]
M6 = [f"{m // 12}{m % 12 + 1:02d}" for m in range(MSTR_BASE, 2040 * 12)]

_WORK_BASE = date(2014, 1, 1).toordinal()
_WORK_END = date(2032, 1, 1).toordinal()
WORKING = bytes(
    1 if is_working_day(date.fromordinal(o)) else 0 for o in range(_WORK_BASE, _WORK_END)
)


def dstr(o: int) -> str:
    return DSTR[o - ORD_BASE]


def d8(o: int) -> str:
    return D8[o - ORD_BASE]


def mstr(m: int) -> str:
    return MSTR[m - MSTR_BASE]


def m6(m: int) -> str:
    return M6[m - MSTR_BASE]


def iso_ts(t: int) -> str:
    """Epoch seconds -> ``YYYY-MM-DDTHH:MM:SS+08:00``."""
    loc = t + TZ_OFFSET
    return DSTR[loc // 86400 + EPOCH_ORD - ORD_BASE] + TSTR[loc % 86400]


def gxsj_ts(t: int) -> str:
    """Epoch seconds -> ``YYYYMMDDHHMMSS`` in local time."""
    loc = t + TZ_OFFSET
    return D8[loc // 86400 + EPOCH_ORD - ORD_BASE] + HMS6[loc % 86400]


def day_epoch(o: int) -> int:
    """Epoch seconds of local midnight starting the day ``o``."""
    return (o - EPOCH_ORD) * 86400 - TZ_OFFSET


def working(o: int) -> bool:
    i = o - _WORK_BASE
    if 0 <= i < len(WORKING):
        return WORKING[i] == 1
    return is_working_day(date.fromordinal(o))


def month_of(o: int) -> int:
    d = date.fromordinal(o)
    return d.year * 12 + d.month - 1


def month_first(m: int) -> int:
    return date(m // 12, m % 12 + 1, 1).toordinal()


def month_last(m: int) -> int:
    return month_first(m + 1) - 1


def monday_of(o: int) -> int:
    return o - (o + 6) % 7


def iso_week(monday: int) -> str:
    y, w, _ = date.fromordinal(monday).isocalendar()
    return f"{y}-W{w:02d}"


def add_years(o: int, years: int) -> int:
    """The date ``years`` later (29 February maps to 1 March): the 周岁 birthday."""
    d = date.fromordinal(o)
    try:
        return d.replace(year=d.year + years).toordinal()
    except ValueError:
        return date(d.year + years, 3, 1).toordinal()


def money(cents: int, short: bool = False) -> str:
    """Yuan decimal string; ``short`` gives the '45'/'45.0'/'45.5' forms also seen."""
    neg = cents < 0
    c = -cents if neg else cents
    y, f = divmod(c, 100)
    if not short:
        s = f"{y}.{f:02d}"
    elif f == 0:
        s = f"{y}" if (y & 1) else f"{y}.0"
    elif f % 10 == 0:
        s = f"{y}.{f // 10}"
    else:
        s = f"{y}.{f:02d}"
    return "-" + s if neg else s


# --------------------------------------------------------------------------- transforms

_FW = {ord(c): chr(ord(c) + 0xFEE0) for c in "0123456789Xx"}


def id_legacy15(id18: str) -> str:
    return id18[:6] + id18[8:17]


def id_fullwidth(id18: str) -> str:
    return id18.translate(_FW)


def id_bad_check(id18: str, r: float) -> str:
    good = id18[17]
    alts = [c for c in "0123456789X" if c != good]
    return id18[:17] + alts[int(r * len(alts))]


def id_transposed(id18: str, r: float) -> str:
    """Swap two adjacent different digits of the first 17 (always breaks the check)."""
    start = int(r * 16)
    for k in range(16):
        i = (start + k) % 16
        if id18[i] != id18[i + 1]:
            return id18[:i] + id18[i + 1] + id18[i] + id18[i + 2 :]
    return id18[:17] + ("0" if id18[17] != "0" else "1")


def make_id(area: str, birth_d8: str, seq: int) -> str:
    body = f"{area}{birth_d8}{seq:03d}"
    return body + id_check_char(body)


def name_traditional(name: str) -> str | None:
    out = "".join(TRAD.get(c, c) for c in name)
    return out if out != name else None


def name_homophone(name: str, r: float) -> str | None:
    idx = [i for i, c in enumerate(name) if c in HOMOPHONES]
    if not idx:
        return None
    i = idx[int(r * len(idx))]
    return name[:i] + HOMOPHONES[name[i]] + name[i + 1 :]


def name_dot_variant(name: str, r: float) -> str | None:
    if MIDDLE_DOT not in name:
        return None
    return name.replace(MIDDLE_DOT, DOT_VARIANTS[int(r * len(DOT_VARIANTS))])


def name_spaces(name: str, r: float) -> str:
    if r < 0.4:
        return name[:1] + " " + name[1:]
    if r < 0.7:
        return name + " "
    return " " + name


def name_fullwidth(name: str, r: float) -> str:
    # Chinese characters are already full-width: the full-width forms seen are the
    # ideographic space and full-width punctuation around the name
    if MIDDLE_DOT in name:
        return name.replace(MIDDLE_DOT, "．")
    if r < 0.6:
        return name[:1] + "\u3000" + name[1:]
    return name + "\u3000"


def phone_variant(phone: str, r: float) -> str:
    if r < 0.3:
        return "+86" + phone
    if r < 0.5:
        return "+86 " + phone[:3] + " " + phone[3:7] + " " + phone[7:]
    if r < 0.8:
        return phone[:3] + "-" + phone[3:7] + "-" + phone[7:]
    return phone[:3] + " " + phone[3:7] + " " + phone[7:]


def retired_code(code: str) -> str | None:
    return RETIRED_CODES.get(code)


def impossible_date(o: int, r: float) -> str:
    """A date string that names no real day, in the same year as ``o``."""
    y = date.fromordinal(o).year
    choices = (
        f"{y}-02-30",
        f"{y}-02-31",
        f"{y}-04-31",
        f"{y}-06-31",
        f"{y}-09-31",
        f"{y}-11-31",
        f"{y}-13-01",
        f"{y}-00-12",
    )
    return choices[int(r * len(choices))]


def impossible_d8(o: int, r: float) -> str:
    return impossible_date(o, r).replace("-", "")
