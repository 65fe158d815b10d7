"""Shared helpers for the independent platform implementation (written from PLATFORMS.md only)."""
from __future__ import annotations

import datetime as dt
import random

SH = dt.timezone(dt.timedelta(hours=8))
UTC = dt.UTC

# The data's clock. Nothing here reads the wall clock for the data: a rerun with the same
# seed and --now writes the same files. Day 2 (mutate.py) defaults to two hours later, on
# the same Shanghai date, so who is 60+ is judged on the same day both times.
DEFAULT_NOW = "2026-12-07T10:00:00+08:00"
DEFAULT_NOW_DAY2 = "2026-12-07T12:00:00+08:00"

W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHK = "10X98765432"

CURRENT = ["370202", "370203", "370211", "370212", "370213", "370214", "370215", "370281", "370283", "370285"]
RETIRED = {"370282": "370215", "370284": "370211"}
DNAME = {"370202": "市南区", "370203": "市北区", "370211": "黄岛区", "370212": "崂山区", "370213": "李沧区",
         "370214": "城阳区", "370215": "即墨区", "370281": "胶州市", "370283": "平度市", "370285": "莱西市",
         "370282": "即墨市", "370284": "胶南市"}


def parse_now(raw: str) -> dt.datetime:
    """``--now``: an ISO date-time with an offset, returned in UTC (whole seconds kept as given)."""
    t = dt.datetime.fromisoformat(raw)
    if t.tzinfo is None:
        raise ValueError(f"--now needs an offset (e.g. {DEFAULT_NOW}), got {raw!r}")
    return t.astimezone(UTC)


def check_digit(body17: str) -> str:
    return CHK[sum(int(c) * w for c, w in zip(body17, W)) % 11]


def make_id(area: str, birth: dt.date, seq: int) -> str:
    body = f"{area}{birth:%Y%m%d}{seq:03d}"
    return body + check_digit(body)


def to_legacy15(id18: str) -> str:
    return id18[:6] + id18[8:17]


FW = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


def fullwidth(s: str) -> str:
    return s.translate(FW)


def wrong_check(id18: str, rng: random.Random) -> str:
    good = id18[-1]
    return id18[:17] + rng.choice([c for c in "0123456789X" if c != good])


def transpose(id18: str, rng: random.Random) -> str:
    # two adjacent differing digits in the body (positions 6..16)
    cands = [i for i in range(6, 16) if id18[i] != id18[i + 1]]
    i = rng.choice(cands)
    s = list(id18)
    s[i], s[i + 1] = s[i + 1], s[i]
    return "".join(s)


def age_on(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def iso_sh(t: dt.datetime, frac: bool = False) -> str:
    t = t.astimezone(SH)
    return t.isoformat(timespec="milliseconds" if frac else "seconds")


def iso_utc(t: dt.datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds")  # '+00:00'


def ps_time(t: dt.datetime) -> str:
    return t.astimezone(SH).strftime("%Y%m%d%H%M%S")
