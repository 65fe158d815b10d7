"""Per-field normalisation of the source platforms' values (see ``PLATFORMS.md``).

Every function here is pure: it looks at one raw value and returns its canonical form,
usually together with an *issue* code naming what was wrong with it (``None`` when
nothing was). Nothing is dropped or raised silently: a value that cannot be understood
comes back as ``None`` plus an issue, so the caller can keep the record and account for
it. Only the timestamp parsers raise (``ValueError``), because a record without a
usable update time cannot be versioned at all and the caller rejects it.

The functions run once per field per row over millions of rows, so they

* take fast paths for the common clean case (ASCII input needs no Unicode
  normalisation, an 18-digit ID needs no cleaning);
* use precomputed ``str.translate`` tables instead of regular expressions;
* cache results with :func:`functools.lru_cache` where values repeat (names, birth dates,
  calendar dates, money amounts). Cached values are immutable, so sharing them is safe.

Issue codes used here: ``empty``, ``bad_format``, ``bad_checksum``, ``bad_date``,
``legacy15``, ``invalid_date``, ``retired_code``, ``unknown_code``, ``negative``.

Future-date and cross-field checks (gender or birth date contradicting the ID number)
need context (the as-of date, the other fields) and belong to the caller.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from stdnum.cn.ric import calc_check_digit

__all__ = [
    "CURRENT_AREA_CODES",
    "RETIRED_AREA_CODES",
    "SHANGHAI",
    "IdNumber",
    "format_timestamp",
    "id_birth_date",
    "id_gender",
    "masked_id_parts",
    "normalize_area_code",
    "normalize_id_card",
    "normalize_name",
    "normalize_phone",
    "parse_bool",
    "parse_date",
    "parse_fen",
    "parse_gender",
    "parse_iso_week",
    "parse_month",
    "parse_ps_timestamp",
    "parse_timestamp",
    "parse_yuan",
    "phone_issue",
]

#: Local time of all five platforms.
SHANGHAI = ZoneInfo("Asia/Shanghai")

# --------------------------------------------------------------------------- helpers

_NFKC = "NFKC"

#: Invisible characters that survive NFKC and ``str.split()`` but never belong in a
#: value: zero-width space/non-joiner/joiner, word joiner, BOM, soft hyphen.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_DELETE_INVISIBLE = str.maketrans("", "", _INVISIBLE)


def _clean_text(raw: object) -> str:
    """``raw`` as text: full-width folded to ASCII (NFKC), all whitespace (including the
    ideographic space U+3000) and invisible characters removed. ``None`` -> ``""``."""
    if raw is None:
        return ""
    s = raw if raw.__class__ is str else str(raw)
    if not s.isascii():
        s = unicodedata.normalize(_NFKC, s).translate(_DELETE_INVISIBLE)
    return "".join(s.split())


def _is_digits(s: str) -> bool:
    """True for a non-empty string of ASCII digits only (``str.isdigit`` alone would
    also accept superscripts and other scripts' digits, which ``int`` then mis-reads)."""
    return s.isdigit() and s.isascii()


@lru_cache(maxsize=1 << 16)
def _ymd(s8: str) -> date | None:
    """The date of an 8-digit ``YYYYMMDD`` string, or ``None`` if it does not exist.
    Cached: birth and service dates repeat a lot."""
    try:
        return date(int(s8[:4]), int(s8[4:6]), int(s8[6:8]))
    except ValueError:
        return None


# ------------------------------------------------------------------------ ID numbers


@dataclass(frozen=True, slots=True)
class IdNumber:
    """Result of :func:`normalize_id_card`.

    * ``value`` — the valid 18-character resident ID number (GB 11643), else ``None``;
    * ``cleaned`` — the input after cleaning (whitespace, full width, ``x`` -> ``X``,
      15 -> 18 conversion), kept even when invalid for fuzzy matching; ``None`` if empty;
    * ``issue`` — ``None`` (valid), ``legacy15`` (valid, converted from a 15-digit
      number), ``bad_checksum``, ``bad_date``, ``bad_format`` or ``empty``;
    * ``birth_date`` / ``gender`` (``"M"``/``"F"``) — derived from ``value`` only.
    """

    value: str | None
    cleaned: str | None
    issue: str | None
    birth_date: date | None
    gender: str | None


# IdNumber() of a frozen dataclass sets each field through object.__setattr__, which is
# about a third of normalize_id_card's time. The hot path builds results by setting the
# slots directly instead: the same object (no __post_init__ to skip), ~2x faster to make.
_new_object = object.__new__
_SET_VALUE = IdNumber.value.__set__  # type: ignore[attr-defined]
_SET_CLEANED = IdNumber.cleaned.__set__  # type: ignore[attr-defined]
_SET_ISSUE = IdNumber.issue.__set__  # type: ignore[attr-defined]
_SET_BIRTH_DATE = IdNumber.birth_date.__set__  # type: ignore[attr-defined]
_SET_GENDER = IdNumber.gender.__set__  # type: ignore[attr-defined]


def _id_number(
    value: str | None, cleaned: str | None, issue: str | None, born: date | None, gender: str | None
) -> IdNumber:
    """``IdNumber(value, cleaned, issue, born, gender)``, built without the frozen
    dataclass's per-field ``object.__setattr__`` calls."""
    r = _new_object(IdNumber)
    _SET_VALUE(r, value)
    _SET_CLEANED(r, cleaned)
    _SET_ISSUE(r, issue)
    _SET_BIRTH_DATE(r, born)
    _SET_GENDER(r, gender)
    return r


_ID_EMPTY = IdNumber(None, None, "empty", None, None)
#: Gender from the 17th character (the sequence number's last digit): odd = male.
_GENDER_BY_DIGIT = {d: ("M" if int(d) % 2 else "F") for d in "0123456789"}


def id_birth_date(value: str | None) -> date | None:
    """Birth date embedded in an 18-character ID number (such as ``IdNumber.value``);
    ``None`` if ``value`` is not 18 characters with an existing date at 7..14."""
    if not value or len(value) != 18 or not _is_digits(value[6:14]):
        return None
    return _ymd(value[6:14])


def id_gender(value: str | None) -> str | None:
    """``"M"`` (odd) / ``"F"`` (even) from the 17th character of an 18-character ID
    number (such as ``IdNumber.value``); ``None`` if it is not that shape."""
    if not value or len(value) != 18:
        return None
    return _GENDER_BY_DIGIT.get(value[16])


def _legacy15_to_18(s15: str) -> str:
    """A 15-digit legacy number (6 area + YYMMDD + 3 sequence) as 18 characters:
    century ``19`` inserted before YY and the GB 11643 check character appended."""
    body = s15[:6] + "19" + s15[6:]
    # calc_check_digit expects the full number and ignores its last character.
    return body + calc_check_digit(body + "0")


def normalize_id_card(raw: str | None) -> IdNumber:
    """Clean and validate a resident ID number (GB 11643-1999).

    Cleaning removes every whitespace (incl. U+3000) and invisible character, folds
    full-width characters to ASCII (NFKC) and upper-cases ``x``. A 15-digit legacy
    number is converted to 18 characters (century 19, check character computed;
    issue ``legacy15``). An 18-character number is valid when it is 17 digits plus a
    digit or ``X``, its check character is right and its birth date exists.

    The checksum is checked before the date, so two transposed digits are reported as
    ``bad_checksum`` even where the swap also breaks the date (the ISO 7064 MOD 11-2
    check catches every swap of adjacent digits).
    """
    if raw is None:
        return _ID_EMPTY
    s = raw if raw.__class__ is str else str(raw)
    # Fast path: an already clean 18-character number skips all cleaning.
    if not (len(s) == 18 and s.isascii() and s[:17].isdigit() and s[17] != "x"):
        s = _clean_text(s).replace("x", "X")
        if not s:
            return _ID_EMPTY
    n = len(s)
    if n == 18:
        if not (_is_digits(s[:17]) and (s[17] == "X" or _is_digits(s[17]))):
            return _id_number(None, s, "bad_format", None, None)
        if calc_check_digit(s) != s[17]:
            return _id_number(None, s, "bad_checksum", None, None)
        born = _ymd(s[6:14])
        if born is None:
            return _id_number(None, s, "bad_date", None, None)
        return _id_number(s, s, None, born, _GENDER_BY_DIGIT[s[16]])
    if n == 15 and _is_digits(s):
        s18 = _legacy15_to_18(s)
        born = _ymd(s18[6:14])
        if born is None:
            return _id_number(None, s18, "bad_date", None, None)
        return _id_number(s18, s18, "legacy15", born, _GENDER_BY_DIGIT[s18[16]])
    return _id_number(None, s, "bad_format", None, None)


def masked_id_parts(masked: str | None) -> tuple[str | None, str | None]:
    """Split the property platform's masked ID (``370203********123X``: first 6 and
    last 4 characters) into ``(first6, last4)``, ``last4`` upper-cased. Cleaned like an
    ID number first (width, whitespace, ``x``). The contract fixes the kept characters,
    not the mask: any run of asterisks between them is accepted (another system may
    write 4), and the number masked is taken as an 18-digit one — except a value 15
    characters long, a masked legacy number, whose last four do not line up with an
    18-digit number's: it gives ``(first6, None)``. ``(None, None)`` if empty or not
    that shape."""
    s = _clean_text(masked)
    n = len(s)
    if n < 11 or s[6:n - 4].strip("*") or not _is_digits(s[:6]) or not _is_digits(s[n - 4:n - 1]):
        return None, None
    last = s[-1]
    if last == "x":
        last = "X"
    elif not (last == "X" or _is_digits(last)):
        return None, None
    if n == 15:
        # a masked 15-digit legacy number: its last four are the 18-digit number's 14th to
        # 17th characters, not its last four — only the area part can be compared
        return s[:6], None
    return s[:6], s[n - 4:n - 1] + last


# ----------------------------------------------------------------------------- names

#: Characters used as the middle dot of minority (e.g. Uyghur) names, all unified to
#: U+00B7. U+FF0E (full-width full stop), U+FE52 and U+2024 become ``.`` under NFKC and
#: U+FF65 becomes U+30FB, so they are covered by their NFKC forms.
_NAME_DOTS = "\u00b7\u2022.\u30fb\u2027\u2219\u22c5\u2e31\u0387"
_MIDDLE_DOT = "\u00b7"
#: Punctuation that may appear inside a Latin-script name (``O'Neil``, ``Jean-Luc``,
#: ``John F. Kennedy``); such names keep it, and keep single spaces between words.
_LATIN_NAME_PUNCT = str.maketrans("", "", "'-.")


def _build_name_table() -> dict[int, str | None]:
    """One ``str.translate`` table doing, per character: traditional -> simplified,
    every middle-dot variant -> U+00B7, invisible characters -> deleted.

    The traditional -> simplified part is zhconv's single-character zh-Hans mappings.
    Names are not words, so zhconv's phrase rules are left out on purpose: phrase-level
    ``convert(s, "zh-cn")`` does not undo its own ``zh-tw`` conversion of some names
    (``马干明`` -> ``馬乾明`` -> ``马乾明``), while the per-character table maps every
    traditional rendering of a simplified name back to it. As in zhconv, characters
    that are both traditional and simplified follow the traditional reading: ``乾``
    becomes ``干`` even in names where it is read qián — consistently on every
    platform, which is what matching needs."""
    try:
        import zhconv.zhconv as zhc

        zhc.loaddict()
        pairs = {k: v for k, v in zhc.zhcdicts["zh2Hans"].items() if len(k) == 1}
    except (ImportError, AttributeError, KeyError, TypeError):  # pragma: no cover
        # Layout of zhconv changed: derive the same mapping through its public API.
        from zhconv import convert

        pairs = {}
        for cp in (*range(0x3400, 0x4DC0), *range(0x4E00, 0xA000), *range(0xF900, 0xFB00)):
            ch = chr(cp)
            simp = convert(ch, "zh-hans")
            if simp != ch:
                pairs[ch] = simp
    table: dict[int, str | None] = {ord(k): v for k, v in pairs.items() if v != k}
    for ch in _NAME_DOTS:
        table[ord(ch)] = _MIDDLE_DOT
    for ch in _INVISIBLE:
        table[ord(ch)] = None
    return table


_NAME_TABLE = _build_name_table()


def _is_latin_name(compact: str) -> bool:
    """True if ``compact`` (no whitespace) is Latin letters only, allowing the
    punctuation of :data:`_LATIN_NAME_PUNCT` and accented Latin letters (< U+0250)."""
    letters = compact.translate(_LATIN_NAME_PUNCT)
    return bool(letters) and letters.isalpha() and max(letters) < "\u0250"


@lru_cache(maxsize=1 << 18)
def _normalize_name_cached(s: str) -> str | None:
    if not s.isascii():
        s = unicodedata.normalize(_NFKC, s)
    words = s.split()
    compact = "".join(words)
    if not compact:
        return None
    if _is_latin_name(compact):
        return " ".join(words)
    return compact.translate(_NAME_TABLE) or None


def normalize_name(raw: str | None) -> str | None:
    """Canonical form of a person's name, for storage and matching.

    NFKC (full-width -> half-width), traditional -> simplified characters, every
    middle-dot variant (``·•．.・‧∙･`` …) -> ``·`` (U+00B7), all whitespace removed
    (``"张 三"`` -> ``"张三"``). A purely Latin-script name keeps single spaces between
    words and its own ``.``/``-``/``'`` (``"John  F. Kennedy"`` -> ``"John F. Kennedy"``).
    Empty -> ``None``. Results are cached per distinct raw name.
    """
    if raw is None:
        return None
    return _normalize_name_cached(raw if raw.__class__ is str else str(raw))


# ---------------------------------------------------------------------------- phones

#: Separators removed from phone numbers (after NFKC, so full-width forms are covered).
_PHONE_DELETE = str.maketrans("", "", " \t\r\n-()._/\u2010\u2011\u2012\u2013\u2014" + _INVISIBLE)


def _phone(raw: object) -> tuple[str | None, str | None]:
    """``(digits, issue)`` for :func:`normalize_phone` / :func:`phone_issue`."""
    if raw is None:
        return None, "empty"
    s = raw if raw.__class__ is str else str(raw)
    if not s.isascii():
        s = unicodedata.normalize(_NFKC, s)
    s = s.translate(_PHONE_DELETE)
    s = "".join(s.split())  # any remaining (Unicode) whitespace
    if not s:
        return None, "empty"
    international = False
    if s[0] == "+":
        if not s.startswith("+86"):
            return None, "bad_format"  # foreign number: not ours to interpret
        s = s[3:]
        international = True
    elif s.startswith("0086"):
        s = s[4:]
        international = True
    elif len(s) == 13 and s.startswith("861"):
        s = s[2:]
    if not _is_digits(s):
        return None, "bad_format"
    if international and s[0] != "1" and s[0] != "0":
        s = "0" + s  # +86 532 ... : the domestic trunk prefix 0 comes back
    n = len(s)
    if s[0] == "1":
        return (s, None) if n == 11 else (None, "bad_format")
    if s[0] == "0":
        return (s, None) if 10 <= n <= 12 else (None, "bad_format")
    return (s, None) if 7 <= n <= 8 else (None, "bad_format")


def normalize_phone(raw: str | None) -> str | None:
    """Canonical digits of a Chinese phone number, or ``None`` if empty or garbage.

    Removes spaces, dashes, parentheses, dots, full width, and the country code
    (``+86``, ``0086``, or ``86`` before an 11-digit mobile number). Accepts an
    11-digit mobile number (starts with ``1``), a landline with area code (starts with
    ``0``, 10–12 digits, e.g. ``053288886666``; ``+86 532 …`` regains its ``0``) or a
    local landline without area code (7–8 digits). Anything else, including letters,
    is garbage.
    """
    # Fast path: an already clean mobile number.
    if raw.__class__ is str and len(raw) == 11 and raw[0] == "1" and _is_digits(raw):
        return raw
    return _phone(raw)[0]


def phone_issue(raw: str | None) -> str | None:
    """``None`` if :func:`normalize_phone` accepts ``raw``, else ``"empty"`` or
    ``"bad_format"``."""
    return _phone(raw)[1]


# ------------------------------------------------------------------------ area codes

#: Qingdao's current district-level area codes (contract, "Real-world noise").
CURRENT_AREA_CODES: dict[str, str] = {
    "370202": "Shinan",
    "370203": "Shibei",
    "370211": "Huangdao (West Coast New Area)",
    "370212": "Laoshan",
    "370213": "Licang",
    "370214": "Chengyang",
    "370215": "Jimo",
    "370281": "Jiaozhou",
    "370283": "Pingdu",
    "370285": "Laixi",
}

#: Codes retired by administrative changes -> the code that replaced them:
#: 370282 former Jimo city -> Jimo district; 370284 former Jiaonan city -> Huangdao.
RETIRED_AREA_CODES: dict[str, str] = {"370282": "370215", "370284": "370211"}


def normalize_area_code(raw: str | None) -> tuple[str | None, str | None]:
    """``(code, issue)`` for a 6-digit administrative area code.

    Whitespace and full width are cleaned. A retired code is mapped to its successor
    (issue ``retired_code``); a well-formed code outside Qingdao's current set is kept
    with issue ``unknown_code``; anything not 6 digits -> ``(None, "bad_format")``;
    empty -> ``(None, "empty")``.
    """
    s = _clean_text(raw)
    if s in CURRENT_AREA_CODES:
        return s, None
    if not s:
        return None, "empty"
    if len(s) != 6 or not _is_digits(s):
        return None, "bad_format"
    successor = RETIRED_AREA_CODES.get(s)
    if successor is not None:
        return successor, "retired_code"
    return s, "unknown_code"


# ----------------------------------------------------------------------------- dates


@lru_cache(maxsize=1 << 16)
def _parse_date_str(s: str) -> tuple[date | None, str | None]:
    s = _clean_text(s)
    if not s:
        return None, "empty"
    n = len(s)
    if n > 10 and s[10] == "T" and s[4] == "-" and s[7] == "-":
        return _date_of_timestamp(s)
    if n == 10 and s[4] == "-" and s[7] == "-":
        s = s[:4] + s[5:7] + s[8:]
    elif n != 8:
        return None, "bad_format"
    if not _is_digits(s):
        return None, "bad_format"
    d = _ymd(s)
    return (d, None) if d is not None else (None, "invalid_date")


def _date_of_timestamp(s: str) -> tuple[date | None, str | None]:
    """The day of an ISO-8601 date-time (``2024-03-05T00:00:00+08:00``): the contract
    gives no format for most date fields, and a platform may send its dates as
    timestamps. With an offset, the day in Asia/Shanghai; without, the day written."""
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        ymd = s[:4] + s[5:7] + s[8:10]
        well_formed = _is_digits(ymd) and _ymd(ymd) is None  # the day does not exist
        return None, "invalid_date" if well_formed else "bad_format"
    if dt.tzinfo is not None and dt.utcoffset() is not None:
        try:
            dt = dt.astimezone(SHANGHAI)
        except OverflowError:  # 0001-01-01T00:00:00+08:00, a "no date" placeholder
            return None, "invalid_date"
    return dt.date(), None


def parse_date(raw: str | None) -> tuple[date | None, str | None]:
    """``(date, issue)`` from ``YYYY-MM-DD``, ``YYYYMMDD`` or an ISO-8601 date-time
    (its day in Asia/Shanghai).

    Issues: ``empty`` (``None``/blank), ``invalid_date`` (well-formed but does not
    exist, e.g. ``2023-02-30``), ``bad_format`` (anything else). A ``date`` passes
    through (a ``datetime`` gives its date). Future dates are not checked here.
    """
    if raw is None:
        return None, "empty"
    if isinstance(raw, date):
        return (raw.date() if isinstance(raw, datetime) else raw), None
    return _parse_date_str(raw if raw.__class__ is str else str(raw))


@lru_cache(maxsize=1 << 12)
def _parse_month_str(s: str) -> tuple[date | None, str | None]:
    s = _clean_text(s)
    if not s:
        return None, "empty"
    if len(s) == 7 and s[4] == "-":
        s = s[:4] + s[5:]
    if len(s) != 6 or not _is_digits(s):
        return None, "bad_format"
    month = int(s[4:])
    if not 1 <= month <= 12 or s[:4] == "0000":
        return None, "invalid_date"
    return date(int(s[:4]), month, 1), None


def parse_month(raw: str | None) -> tuple[date | None, str | None]:
    """``(first day of the month, issue)`` from ``YYYY-MM`` or ``yyyyMM``; issues as
    :func:`parse_date` (``invalid_date`` for month 00 or 13+)."""
    if raw is None:
        return None, "empty"
    return _parse_month_str(raw if raw.__class__ is str else str(raw))


@lru_cache(maxsize=1 << 12)
def _parse_iso_week_str(s: str) -> tuple[date | None, str | None]:
    s = _clean_text(s).upper()
    if not s:
        return None, "empty"
    if len(s) == 8 and s[4:6] == "-W":
        year, week = s[:4], s[6:]
    elif len(s) == 7 and s[4] == "W":
        year, week = s[:4], s[5:]
    else:
        return None, "bad_format"
    if not (_is_digits(year) and _is_digits(week)):
        return None, "bad_format"
    try:
        return date.fromisocalendar(int(year), int(week), 1), None
    except ValueError:
        return None, "invalid_date"


def parse_iso_week(raw: str | None) -> tuple[date | None, str | None]:
    """``(Monday of the ISO week, issue)`` from ``2024-W05`` (also ``2024W05``); issues
    as :func:`parse_date` (``invalid_date`` for week 00, or 53 in a 52-week year)."""
    if raw is None:
        return None, "empty"
    return _parse_iso_week_str(raw if raw.__class__ is str else str(raw))


# ------------------------------------------------------------------------ timestamps


def parse_timestamp(raw: str) -> datetime:
    """An ISO-8601 timestamp with offset (``2024-03-05T09:12:44+08:00``, ``…Z``) as an
    aware datetime in UTC. Raises ``ValueError`` if it is empty, unparseable or has no
    offset (a naive time is ambiguous; the caller rejects the record)."""
    if raw is None:
        raise ValueError("timestamp is missing")
    s = raw.strip() if raw.__class__ is str else str(raw).strip()
    if not s:
        raise ValueError("timestamp is empty")
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"unparseable ISO-8601 timestamp: {raw!r}") from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"timestamp has no UTC offset: {raw!r}")
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+08:00: before the first instant there is
        raise ValueError(f"timestamp out of range: {raw!r}") from None


def parse_ps_timestamp(raw: str) -> datetime:
    """The public-security ``gxsj`` form ``YYYYMMDDHHMMSS`` (Asia/Shanghai local time)
    as an aware datetime in UTC. Raises ``ValueError`` on anything else."""
    s = _clean_text(raw)
    if len(s) != 14 or not _is_digits(s):
        raise ValueError(f"expected YYYYMMDDHHMMSS, got {raw!r}")
    try:
        local = datetime(
            int(s[:4]), int(s[4:6]), int(s[6:8]),
            int(s[8:10]), int(s[10:12]), int(s[12:14]),
            tzinfo=SHANGHAI,
        )  # fmt: skip
    except ValueError as exc:
        raise ValueError(f"impossible timestamp {raw!r}: {exc}") from None
    try:
        return local.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"timestamp out of range: {raw!r}") from None


def format_timestamp(dt: datetime) -> str:
    """``dt`` as ISO-8601 in Asia/Shanghai with seconds precision
    (``2024-03-05T09:12:44+08:00``), for query parameters. Sub-second parts are
    truncated, which only widens an inclusive lower bound. Naive datetimes are refused
    (``ValueError``): their instant is unknown."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("format_timestamp needs a timezone-aware datetime")
    return dt.astimezone(SHANGHAI).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- money

_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")


def _finish_money(d: Decimal) -> tuple[Decimal, str | None]:
    d = d.quantize(_CENT, rounding=ROUND_HALF_UP)
    if d == 0:
        return _ZERO, None  # also turns -0.00 into 0.00
    return d, ("negative" if d < 0 else None)


@lru_cache(maxsize=1 << 14)
def _parse_yuan_str(s: str) -> tuple[Decimal | None, str | None]:
    s = _clean_text(s)
    if not s:
        return None, "empty"
    body = s[1:] if s[0] in "+-" else s
    whole, _, frac = body.partition(".")
    if not (whole or frac) or (whole and not _is_digits(whole)) or (frac and not _is_digits(frac)):
        return None, "bad_format"
    return _finish_money(Decimal(s))


def parse_yuan(raw: str | None) -> tuple[Decimal | None, str | None]:
    """``(amount, issue)`` from a decimal string in yuan, quantized to 0.01
    (``"45"``, ``"45.0"`` and ``"45.00"`` all give ``Decimal("45.00")``).

    A negative amount is kept, with issue ``negative``. Plain decimal notation only
    (optional sign, digits, one ``.``): exponents, ``NaN``, ``Infinity``, thousands
    separators -> ``(None, "bad_format")``. ``None``/blank -> ``(None, "empty")``.
    An ``int``/``Decimal`` is accepted as is; a ``float`` through its shortest repr.
    """
    if raw is None:
        return None, "empty"
    if isinstance(raw, bool):
        return None, "bad_format"
    if isinstance(raw, int | Decimal):
        if isinstance(raw, Decimal) and not raw.is_finite():
            return None, "bad_format"
        return _finish_money(Decimal(raw))
    return _parse_yuan_str(raw if raw.__class__ is str else str(raw))


def parse_fen(raw: int | str | None) -> tuple[Decimal | None, str | None]:
    """``(yuan, issue)`` from an integer amount in fen (medical insurance's
    ``amountFen``): ``4500`` or ``"4500"`` -> ``Decimal("45.00")``. Issues as
    :func:`parse_yuan`; a fraction of a fen is ``bad_format``."""
    if raw is None:
        return None, "empty"
    if isinstance(raw, bool):
        return None, "bad_format"
    if isinstance(raw, int):
        fen = raw
    elif isinstance(raw, float):
        if not raw.is_integer():
            return None, "bad_format"
        fen = int(raw)
    else:
        s = _clean_text(raw)
        if not s:
            return None, "empty"
        digits = s[1:] if s[0] in "+-" else s
        if not _is_digits(digits):
            return None, "bad_format"
        fen = int(s)
    return _finish_money(Decimal(fen).scaleb(-2))


# ------------------------------------------------------------------- gender, booleans

_GENDERS = {
    "男": "M", "女": "F", "1": "M", "2": "F", "M": "M", "F": "F", "m": "M", "f": "F",
    "男性": "M", "女性": "F", "MALE": "M", "FEMALE": "F", "male": "M", "female": "F",
}  # fmt: skip


def parse_gender(raw: str | int | None) -> str | None:
    """``"M"``/``"F"`` from ``男``/``女``, ``"1"``/``"2"`` (national standard GB/T
    2261.1; also the integers), ``M``/``F`` (any case, or male/female); else ``None``."""
    if raw is None or isinstance(raw, bool):
        return None
    if raw.__class__ is not str:
        raw = str(raw)
    g = _GENDERS.get(raw)
    if g is None:
        s = _clean_text(raw)
        g = _GENDERS.get(s) or _GENDERS.get(s.upper())
    return g


_BOOLS = {"true": True, "false": False, "1": True, "0": False}
_INT_BOOLS = {1: True, 0: False}


def parse_bool(raw: object) -> bool | None:
    """``True``/``False`` from a bool, ``1``/``0`` (int or string) or
    ``"true"``/``"false"`` (any case, surrounding spaces ignored); else ``None``."""
    if raw is True or raw is False:
        return raw
    if raw.__class__ is int:
        return _INT_BOOLS.get(raw)
    if isinstance(raw, str):
        b = _BOOLS.get(raw)
        return b if b is not None else _BOOLS.get(raw.strip().lower())
    return None
