"""Tests of landing.normalize: every rule, and every kind of noise in PLATFORMS.md.

Valid ID numbers are computed here with an independent GB 11643 implementation
(explicit weights and check-character table), so a wrong checksum in the module fails.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import zhconv

from landing import normalize as nz
from landing.normalize import (
    CURRENT_AREA_CODES,
    RETIRED_AREA_CODES,
    IdNumber,
    format_timestamp,
    id_birth_date,
    id_gender,
    masked_id_parts,
    normalize_area_code,
    normalize_id_card,
    normalize_name,
    normalize_phone,
    parse_bool,
    parse_date,
    parse_fen,
    parse_gender,
    parse_iso_week,
    parse_month,
    parse_ps_timestamp,
    parse_timestamp,
    parse_yuan,
    phone_issue,
)

# ------------------------------------------------------------ independent GB 11643

GB_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
GB_CHECK = "10X98765432"


def check_char(body17: str) -> str:
    assert len(body17) == 17 and body17.isdigit()
    return GB_CHECK[sum(int(d) * w for d, w in zip(body17, GB_WEIGHTS, strict=True)) % 11]


def make_id(area: str, yyyymmdd: str, seq: str) -> str:
    body = area + yyyymmdd + seq
    return body + check_char(body)


def wrong_check_chars(valid: str) -> list[str]:
    return [c for c in "0123456789X" if c != valid[17]]


def to_fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


# A published example number, anchoring the helper itself.
PUBLISHED = "11010519491231002X"

VALID = [
    # (id, birth date, gender)
    (make_id("370202", "19450312", "123"), date(1945, 3, 12), "M"),
    (make_id("370203", "19500101", "002"), date(1950, 1, 1), "F"),
    (make_id("370211", "19601231", "019"), date(1960, 12, 31), "M"),
    (make_id("370282", "19480229", "338"), date(1948, 2, 29), "F"),
    (make_id("370285", "19391005", "777"), date(1939, 10, 5), "M"),
    (make_id("370214", "20000229", "040"), date(2000, 2, 29), "F"),
]
# make sure both check-character kinds ("X" and digits) are covered
X_ID = next(
    i for i in (make_id("370213", "19520704", f"{s:03d}") for s in range(1000)) if i[17] == "X"
)
VALID.append((X_ID, date(1952, 7, 4), id_gender(X_ID)))


def test_helper_matches_published_example() -> None:
    assert make_id("110105", "19491231", "002") == PUBLISHED


def test_valid_set_covers_x_and_digit_checks() -> None:
    assert {i[17] == "X" for i, _, _ in VALID} == {True, False}
    assert X_ID[16] in "0123456789"


# ----------------------------------------------------------------------- ID numbers


@pytest.mark.parametrize(("raw", "born", "gender"), [*VALID, (PUBLISHED, date(1949, 12, 31), "F")])
def test_valid_id(raw: str, born: date, gender: str) -> None:
    r = normalize_id_card(raw)
    assert r == IdNumber(raw, raw, None, born, gender)


@pytest.mark.parametrize(
    "noisy",
    [
        lambda s: s.lower(),  # lowercase x
        lambda s: " " + s + " ",  # surrounding spaces
        lambda s: "\t" + s + "\n",
        lambda s: "\u3000" + s + "\u3000",  # full-width space
        lambda s: s[:6] + " " + s[6:14] + " " + s[14:],  # internal spaces
        lambda s: s[:9] + "\u3000" + s[9:],
        lambda s: to_fullwidth(s),  # full-width digits (and X)
        lambda s: to_fullwidth(s.lower()),  # full-width x
        lambda s: " " + to_fullwidth(s[:10]) + s[10:].lower() + "\u3000",
        lambda s: s[:5] + "\u200b" + s[5:],  # zero-width space
    ],
    ids=[
        "lower-x",
        "spaces",
        "tab-newline",
        "ideographic-space",
        "internal-spaces",
        "internal-u3000",
        "fullwidth",
        "fullwidth-lower-x",
        "mixed",
        "zero-width",
    ],
)
@pytest.mark.parametrize(("valid", "born", "gender"), VALID, ids=[v[0] for v in VALID])
def test_id_cleaning(noisy, valid: str, born: date, gender: str) -> None:
    raw = noisy(valid)
    r = normalize_id_card(raw)
    assert r.value == valid
    assert r.cleaned == valid
    assert r.issue is None
    assert (r.birth_date, r.gender) == (born, gender)


@pytest.mark.parametrize(("valid", "born", "gender"), VALID[:5], ids=[v[0] for v in VALID[:5]])
def test_id_legacy15(valid: str, born: date, gender: str) -> None:
    assert valid[6:8] == "19"
    legacy = valid[:6] + valid[8:17]  # drop century and check character
    assert len(legacy) == 15
    for raw in (legacy, f" {legacy} ", to_fullwidth(legacy)):
        assert normalize_id_card(raw) == IdNumber(valid, valid, "legacy15", born, gender)


def test_id_legacy15_bad_date() -> None:
    r = normalize_id_card("370202230230123")  # 1923-02-30
    expected18 = make_id("370202", "19230230", "123")
    assert r == IdNumber(None, expected18, "bad_date", None, None)


@pytest.mark.parametrize(("valid", "born", "gender"), VALID, ids=[v[0] for v in VALID])
def test_id_wrong_check_digit(valid: str, born: date, gender: str) -> None:
    for c in wrong_check_chars(valid):
        bad = valid[:17] + c
        assert normalize_id_card(bad) == IdNumber(None, bad, "bad_checksum", None, None), bad
        # even after cleaning
        assert normalize_id_card(" " + bad.lower() + " ").issue == "bad_checksum"


@pytest.mark.parametrize(("valid", "born", "gender"), VALID, ids=[v[0] for v in VALID])
def test_id_two_transposed_digits(valid: str, born: date, gender: str) -> None:
    swaps = 0
    for i in range(16):  # adjacent pairs within the 17 body digits
        a, b = valid[i], valid[i + 1]
        if a == b:
            continue
        bad = valid[:i] + b + a + valid[i + 2 :]
        r = normalize_id_card(bad)
        assert r == IdNumber(None, bad, "bad_checksum", None, None), bad
        swaps += 1
    assert swaps >= 8


def test_id_transposition_breaking_the_date_is_a_checksum_error() -> None:
    valid = make_id("370202", "19450312", "123")
    bad = valid[:10] + valid[11] + valid[10] + valid[12:]  # month 03 -> 30
    assert bad[10:12] == "30"
    assert normalize_id_card(bad).issue == "bad_checksum"


@pytest.mark.parametrize("ymd", ["20230230", "19450229", "19451301", "19450000", "19450132"])
def test_id_impossible_date_with_right_checksum(ymd: str) -> None:
    raw = make_id("370202", ymd, "123")
    assert normalize_id_card(raw) == IdNumber(None, raw, "bad_date", None, None)


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        (PUBLISHED[:17], PUBLISHED[:17]),  # 17 characters
        (PUBLISHED + "1", PUBLISHED + "1"),  # 19
        ("1101051949123100X2", "1101051949123100X2"),  # X not last
        ("11010519491231002Y", "11010519491231002Y"),
        ("abc", "abc"),
        ("11010549123100", "11010549123100"),  # 14 digits
        ("11010549123100X", "11010549123100X"),  # 15 with X
        ("110105-19491231-002X", "110105-19491231-002X"),
        ("１１０１０５ 1949", "1101051949"),
        ("1101051949123100٢X", "1101051949123100٢X"),  # Arabic-Indic digit: not ASCII
    ],
)
def test_id_bad_format(raw: str, cleaned: str) -> None:
    assert normalize_id_card(raw) == IdNumber(None, cleaned, "bad_format", None, None)


def test_id_superscript_digits_are_folded_by_nfkc() -> None:
    valid = VALID[0][0]
    raw = valid[:6] + valid[6:].translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    assert raw[6:].isdigit() and not raw.isascii()
    assert normalize_id_card(raw).value == valid


@pytest.mark.parametrize("raw", [None, "", " ", "\u3000\u3000", "\t\n", "\u200b"])
def test_id_empty(raw: str | None) -> None:
    assert normalize_id_card(raw) == IdNumber(None, None, "empty", None, None)


@pytest.mark.parametrize(
    ("seq", "gender"), [("001", "M"), ("002", "F"), ("119", "M"), ("990", "F")]
)
def test_id_gender_from_17th_digit(seq: str, gender: str) -> None:
    raw = make_id("370202", "19450312", seq)
    assert normalize_id_card(raw).gender == gender
    assert id_gender(raw) == gender


def test_id_helpers() -> None:
    assert id_birth_date(PUBLISHED) == date(1949, 12, 31)
    assert id_gender(PUBLISHED) == "F"
    assert id_birth_date(make_id("370202", "20230230", "123")) is None
    assert id_birth_date("12345") is None
    assert id_birth_date(None) is None
    assert id_gender("12345") is None
    assert id_gender(None) is None


def test_id_number_is_frozen_with_slots() -> None:
    r = normalize_id_card(PUBLISHED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.value = "x"  # type: ignore[misc]
    assert not hasattr(r, "__dict__")
    same = IdNumber(PUBLISHED, PUBLISHED, None, date(1949, 12, 31), "F")
    assert r == same
    assert hash(r) == hash(same)
    assert repr(r) == repr(same)
    assert [f.name for f in dataclasses.fields(IdNumber)] == [
        "value",
        "cleaned",
        "issue",
        "birth_date",
        "gender",
    ]


def test_id_accepts_non_str() -> None:
    digits_only = next(i for i, _, _ in VALID if i[17] != "X")
    assert normalize_id_card(int(digits_only)).value == digits_only  # type: ignore[arg-type]


# -------------------------------------------------------------------- masked IDs


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("370203********123X", ("370203", "123X")),
        ("370203********123x", ("370203", "123X")),
        ("370203********1234", ("370203", "1234")),
        (" 370203********123X ", ("370203", "123X")),
        (to_fullwidth("370203********123x"), ("370203", "123X")),
        ("370203 ******** 123X", ("370203", "123X")),
        ("", (None, None)),
        (None, (None, None)),
        ("   ", (None, None)),
        # the contract fixes the 6 and 4 characters kept, not the mask between them
        ("370203****123X", ("370203", "123X")),
        ("370203*****1234", ("370203", None)),  # a masked 15-digit legacy number: its last 4 do not line up
        ("370203123X", (None, None)),  # nothing masked
        ("370203*", (None, None)),
        ("370203********12X3", (None, None)),
        ("370203********123Y", (None, None)),
        ("37020A********123X", (None, None)),
        ("370203194501011234", (None, None)),  # not masked
        ("370203xxxxxxxx123X", (None, None)),
    ],
)
def test_masked_id_parts(raw: str | None, expected: tuple[str | None, str | None]) -> None:
    assert masked_id_parts(raw) == expected


def test_masked_id_parts_match_full_id() -> None:
    full = X_ID
    masked = full[:6] + "*" * 8 + full[14:].lower()
    assert masked_id_parts(masked) == (full[:6], full[14:])


# ------------------------------------------------------------------------- names

DOT_VARIANTS = [
    "\u00b7",  # · middle dot
    "\u2022",  # • bullet
    "\uff0e",  # ． full-width full stop
    ".",
    "\u30fb",  # ・ katakana middle dot
    "\u2027",  # ‧ hyphenation point
    "\u2219",  # ∙ bullet operator
    "\uff65",  # ･ half-width katakana middle dot
    "\u0387",  # Greek ano teleia
    "\u22c5",  # ⋅ dot operator
]


@pytest.mark.parametrize("dot", DOT_VARIANTS, ids=[f"U+{ord(d):04X}" for d in DOT_VARIANTS])
def test_name_minority_dots(dot: str) -> None:
    assert normalize_name("阿不都" + dot + "热合曼") == "阿不都·热合曼"
    assert normalize_name(" 阿不都 " + dot + " 热合曼 ") == "阿不都·热合曼"
    assert normalize_name("艾力" + dot + "买买提" + dot + "吐尔逊") == "艾力·买买提·吐尔逊"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张三", "张三"),
        ("张 三", "张三"),
        (" 张三 ", "张三"),
        ("张\u3000三", "张三"),
        ("\u3000张三\u3000", "张三"),
        ("张\t三\n", "张三"),
        ("王  小 明", "王小明"),
        ("张\u200b三", "张三"),
        ("李\u00a0四", "李四"),
    ],
)
def test_name_stray_spaces(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


@pytest.mark.parametrize(
    ("traditional", "simplified"),
    [
        ("陳", "陈"),
        ("劉", "刘"),
        ("張", "张"),
        ("陳小明", "陈小明"),
        ("劉德華", "刘德华"),
        ("張國強", "张国强"),
        ("黃麗娟", "黄丽娟"),
        ("趙衛東", "赵卫东"),
        ("鍾書蘭", "钟书兰"),
        ("蕭紅", "萧红"),
        ("葉嘉瑩", "叶嘉莹"),
        ("阿不都·熱合曼", "阿不都·热合曼"),
        ("張 國強", "张国强"),
    ],
)
def test_name_traditional_to_simplified(traditional: str, simplified: str) -> None:
    assert normalize_name(traditional) == simplified
    assert normalize_name(simplified) == simplified


@pytest.mark.parametrize(
    "name",
    ["陈小明", "刘德华", "张国强", "于秀兰", "范志强", "余建国", "沈丽", "钟南山", "叶桂英",
     "陈升", "张升平", "郑发", "萧红", "阎宝华", "谷丰", "姜云"],
)  # fmt: skip
def test_name_traditional_noise_round_trips(name: str) -> None:
    """What matching relies on: a simplified name and its traditional rendering (as a
    platform or the noise generator would produce it) normalise to the same string."""
    for locale in ("zh-tw", "zh-hk", "zh-hant"):
        noisy = zhconv.convert(name, locale)
        assert normalize_name(noisy) == normalize_name(name) == name, (locale, noisy)


def test_name_qian_follows_zhconv() -> None:
    # 乾 is both traditional (of 干) and simplified (qián); like zhconv, map it to 干, so
    # "马干明" rendered as "馬乾明" by phrase-level conversion still matches.
    assert normalize_name("周乾") == zhconv.convert("周乾", "zh-cn") == "周干"
    assert zhconv.convert("马干明", "zh-tw") == "馬乾明"
    assert normalize_name("馬乾明") == normalize_name("马干明") == "马干明"


def test_name_traditional_round_trip_many_names() -> None:
    """Property behind the per-character table: for names built from common surnames and
    given-name characters (including the ambiguous 干 升 发 余 范 后 ...), every
    traditional rendering normalises back to the simplified original."""
    rng = random.Random(11643)
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓萧于余叶钟范沈姜谷欧阳"
    given = (
        "伟芳秀英敏丽强军杰娟明兰霞平刚华玉萍红建国德福淑珍凤"
        "升干发丰云谷余松志宏里后台才斗准系范冲钟只"
    )
    names = {
        rng.choice(surnames) + "".join(rng.choices(given, k=rng.choice((1, 2))))
        for _ in range(1500)
    }
    failures = [
        (name, locale)
        for name in sorted(names)
        for locale in ("zh-tw", "zh-hk", "zh-hant")
        if normalize_name(zhconv.convert(name, locale)) != name
    ]
    assert failures == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＪＯＨＮ　ＳＭＩＴＨ", "JOHN SMITH"),
        ("John  Smith", "John Smith"),
        ("  Mary   Ann  O'Neil ", "Mary Ann O'Neil"),
        ("Jean-Luc  Picard", "Jean-Luc Picard"),
        ("John F. Kennedy", "John F. Kennedy"),
        ("Zoë  Müller", "Zoë Müller"),
        ("Wang Xiaoming", "Wang Xiaoming"),
        ("张Ａ", "张A"),  # full-width letter in a Chinese name
        ("張 Ａ", "张A"),
        ("王小明２", "王小明2"),
    ],
)
def test_name_full_width_and_latin(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


@pytest.mark.parametrize("raw", [None, "", " ", "\u3000", "\t \n", "\u200b"])
def test_name_empty(raw: str | None) -> None:
    assert normalize_name(raw) is None


@pytest.mark.parametrize(
    "raw", ["陳 小明", "阿不都•熱合曼", "ＪＯＨＮ　ＳＭＩＴＨ", "張\u3000國強", "艾力．买买提"]
)
def test_name_idempotent(raw: str) -> None:
    once = normalize_name(raw)
    assert once is not None
    assert normalize_name(once) == once


# ------------------------------------------------------------------------ phones


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("+86-138-0013-8000", "13800138000"),
        ("(+86) 13800138000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("0086 138 0013 8000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138.0013.8000", "13800138000"),
        (" 13800138000 ", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("138－0013－8000", "13800138000"),
        ("0532-88886666", "053288886666"),
        ("(0532) 8888 6666", "053288886666"),
        ("0532 8888-6666", "053288886666"),
        ("+86 532 8888 6666", "053288886666"),
        ("+86 0532 8888 6666", "053288886666"),
        ("010-6555-1234", "01065551234"),
        ("88886666", "88886666"),
        ("8888666", "8888666"),
        (13800138000, "13800138000"),
    ],
)
def test_phone_good(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected
    assert phone_issue(raw) is None


@pytest.mark.parametrize(
    ("raw", "issue"),
    [
        (None, "empty"),
        ("", "empty"),
        ("  -  ", "empty"),
        ("abc", "bad_format"),
        ("138001380ab", "bad_format"),
        ("tel:13800138000", "bad_format"),
        ("12345", "bad_format"),
        ("123456", "bad_format"),
        ("1380013800", "bad_format"),  # 10-digit "mobile"
        ("138001380001", "bad_format"),  # 12-digit "mobile"
        ("+1 415 555 0100", "bad_format"),  # foreign
        ("05328888666612345", "bad_format"),
        ("123456789", "bad_format"),  # 9 digits, neither mobile nor landline
    ],
)
def test_phone_garbage(raw: str | None, issue: str) -> None:
    assert normalize_phone(raw) is None
    assert phone_issue(raw) == issue


# -------------------------------------------------------------------- area codes

QINGDAO = {
    "370202": "Shinan",
    "370203": "Shibei",
    "370211": "Huangdao",
    "370212": "Laoshan",
    "370213": "Licang",
    "370214": "Chengyang",
    "370215": "Jimo",
    "370281": "Jiaozhou",
    "370283": "Pingdu",
    "370285": "Laixi",
}


def test_area_code_tables() -> None:
    assert set(CURRENT_AREA_CODES) == set(QINGDAO)
    for code, name in QINGDAO.items():
        assert CURRENT_AREA_CODES[code].startswith(name)
    assert RETIRED_AREA_CODES == {"370282": "370215", "370284": "370211"}


@pytest.mark.parametrize("code", sorted(QINGDAO))
def test_area_code_current(code: str) -> None:
    assert normalize_area_code(code) == (code, None)
    assert normalize_area_code(f" {code}\u3000") == (code, None)
    assert normalize_area_code(to_fullwidth(code)) == (code, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("370282", ("370215", "retired_code")),
        ("370284", ("370211", "retired_code")),
        (" 370282 ", ("370215", "retired_code")),
        ("３７０２８４", ("370211", "retired_code")),
        ("110105", ("110105", "unknown_code")),
        ("370201", ("370201", "unknown_code")),
        (370202, ("370202", None)),
        ("3702", (None, "bad_format")),
        ("3702020", (None, "bad_format")),
        ("37020a", (None, "bad_format")),
        ("370202000000", (None, "bad_format")),
        ("", (None, "empty")),
        ("  ", (None, "empty")),
        (None, (None, "empty")),
    ],
)
def test_area_code_noise(raw, expected) -> None:
    assert normalize_area_code(raw) == expected


# ------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-05", (date(2024, 3, 5), None)),
        ("20240305", (date(2024, 3, 5), None)),
        (" 2024-03-05 ", (date(2024, 3, 5), None)),
        ("２０２４-０３-０５", (date(2024, 3, 5), None)),
        ("2024-02-29", (date(2024, 2, 29), None)),
        ("20000229", (date(2000, 2, 29), None)),
        ("1900-01-01", (date(1900, 1, 1), None)),
        ("2023-02-30", (None, "invalid_date")),
        ("20230230", (None, "invalid_date")),
        ("2023-02-29", (None, "invalid_date")),
        ("19000229", (None, "invalid_date")),
        ("2023-13-01", (None, "invalid_date")),
        ("2023-04-31", (None, "invalid_date")),
        ("2023-00-10", (None, "invalid_date")),
        ("00000101", (None, "invalid_date")),
        ("2023/02/03", (None, "bad_format")),
        ("2023-2-3", (None, "bad_format")),
        # a date sent as a date-time: its day, in Asia/Shanghai when it has an offset
        ("2023-02-03T00:00:00", (date(2023, 2, 3), None)),
        ("2023-02-03T00:00:00+08:00", (date(2023, 2, 3), None)),
        ("2023-02-02T16:30:00Z", (date(2023, 2, 3), None)),
        ("2023-02-30T00:00:00+08:00", (None, "invalid_date")),
        ("2023-02-03Tnoon", (None, "bad_format")),
        ("0001-01-01T00:00:00+08:00", (None, "invalid_date")),  # another system's "no date"
        ("2023-0a-03", (None, "bad_format")),
        ("202302033", (None, "bad_format")),
        ("March 3", (None, "bad_format")),
        ("", (None, "empty")),
        ("   ", (None, "empty")),
        (None, (None, "empty")),
        (date(2024, 3, 5), (date(2024, 3, 5), None)),
        (datetime(2024, 3, 5, 23, 59, tzinfo=UTC), (date(2024, 3, 5), None)),
    ],
)
def test_parse_date(raw, expected) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03", (date(2024, 3, 1), None)),
        ("202403", (date(2024, 3, 1), None)),
        ("2024-12", (date(2024, 12, 1), None)),
        (" 202401 ", (date(2024, 1, 1), None)),
        ("2024-13", (None, "invalid_date")),
        ("202400", (None, "invalid_date")),
        ("000001", (None, "invalid_date")),
        ("2024-3", (None, "bad_format")),
        ("2024/03", (None, "bad_format")),
        ("2024-03-01", (None, "bad_format")),
        ("", (None, "empty")),
        (None, (None, "empty")),
    ],
)
def test_parse_month(raw, expected) -> None:
    assert parse_month(raw) == expected


@pytest.mark.parametrize(
    ("raw", "monday"),
    [
        ("2024-W05", date(2024, 1, 29)),
        ("2024-W01", date(2024, 1, 1)),
        ("2025-W01", date(2024, 12, 30)),  # ISO year starts in the previous December
        ("2021-W01", date(2021, 1, 4)),
        ("2020-W53", date(2020, 12, 28)),
        ("2024W05", date(2024, 1, 29)),
        ("2024-w05", date(2024, 1, 29)),
        (" 2024-W05 ", date(2024, 1, 29)),
    ],
)
def test_parse_iso_week(raw: str, monday: date) -> None:
    d, issue = parse_iso_week(raw)
    assert (d, issue) == (monday, None)
    assert d.weekday() == 0
    assert d.isocalendar()[:2] == (int(raw.strip()[:4]), int(raw.strip()[-2:]))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2021-W53", (None, "invalid_date")),
        ("2024-W00", (None, "invalid_date")),
        ("2024-W54", (None, "invalid_date")),
        ("2024-05", (None, "bad_format")),
        ("2024-W5", (None, "bad_format")),
        ("2024-WAB", (None, "bad_format")),
        ("", (None, "empty")),
        (None, (None, "empty")),
    ],
)
def test_parse_iso_week_bad(raw, expected) -> None:
    assert parse_iso_week(raw) == expected


# -------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("raw", "utc"),
    [
        ("2024-03-05T09:12:44+08:00", datetime(2024, 3, 5, 1, 12, 44, tzinfo=UTC)),
        ("2024-03-05T01:12:44Z", datetime(2024, 3, 5, 1, 12, 44, tzinfo=UTC)),
        ("2024-03-05T01:12:44+00:00", datetime(2024, 3, 5, 1, 12, 44, tzinfo=UTC)),
        ("2024-03-04T20:12:44-05:00", datetime(2024, 3, 5, 1, 12, 44, tzinfo=UTC)),
        ("2024-01-01T07:59:59+08:00", datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2024-03-05T09:12:44.250+08:00", datetime(2024, 3, 5, 1, 12, 44, 250000, tzinfo=UTC)),
        (" 2024-03-05T09:12:44+08:00 ", datetime(2024, 3, 5, 1, 12, 44, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(raw: str, utc: datetime) -> None:
    got = parse_timestamp(raw)
    assert got == utc
    assert got.utcoffset() == timedelta(0)
    assert got.tzinfo is UTC


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2024-03-05T09:12:44", "offset"),
        ("2024-03-05", "offset"),
        ("2024-03-05T09:12:44 08:00", "unparseable"),  # "+" decoded to a space
        ("2024-02-30T09:12:44+08:00", "unparseable"),
        ("yesterday", "unparseable"),
        ("", "empty"),
        (None, "missing"),
    ],
)
def test_parse_timestamp_rejects(raw, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_timestamp(raw)


@pytest.mark.parametrize(
    ("raw", "utc"),
    [
        ("20240305091244", datetime(2024, 3, 5, 1, 12, 44, tzinfo=UTC)),
        ("20240101000000", datetime(2023, 12, 31, 16, 0, 0, tzinfo=UTC)),
        ("20240229235959", datetime(2024, 2, 29, 15, 59, 59, tzinfo=UTC)),
        (" 20240305091244 ", datetime(2024, 3, 5, 1, 12, 44, tzinfo=UTC)),
        ("２０２４０３０５０９１２４４", datetime(2024, 3, 5, 1, 12, 44, tzinfo=UTC)),
        # China observed daylight saving time 1986-1991: UTC+9 in summer 1988.
        ("19880601120000", datetime(1988, 6, 1, 3, 0, 0, tzinfo=UTC)),
    ],
)
def test_parse_ps_timestamp(raw: str, utc: datetime) -> None:
    got = parse_ps_timestamp(raw)
    assert got == utc
    assert got.tzinfo is UTC


@pytest.mark.parametrize(
    "raw",
    ["2024030509124", "202403050912440", "20240230091244", "20240305251244", "2024-03-05 09:12:44",
     "2024030509124a", "", None],
)  # fmt: skip
def test_parse_ps_timestamp_rejects(raw) -> None:
    with pytest.raises(ValueError):
        parse_ps_timestamp(raw)


@pytest.mark.parametrize(
    ("dt", "text"),
    [
        (datetime(2024, 3, 5, 1, 12, 44, tzinfo=UTC), "2024-03-05T09:12:44+08:00"),
        (datetime(2023, 12, 31, 16, 0, 0, tzinfo=UTC), "2024-01-01T00:00:00+08:00"),
        (datetime(2024, 3, 5, 1, 12, 44, 999999, tzinfo=UTC), "2024-03-05T09:12:44+08:00"),
        (
            datetime(2024, 3, 5, 9, 12, 44, tzinfo=timezone(timedelta(hours=8))),
            "2024-03-05T09:12:44+08:00",
        ),
        (
            datetime(2024, 3, 4, 20, 12, 44, tzinfo=timezone(timedelta(hours=-5))),
            "2024-03-05T09:12:44+08:00",
        ),
    ],
)
def test_format_timestamp(dt: datetime, text: str) -> None:
    assert format_timestamp(dt) == text
    assert parse_timestamp(text) == dt.replace(microsecond=0)


def test_format_timestamp_refuses_naive() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2024, 3, 5, 9, 12, 44))


def test_ps_timestamp_round_trip_through_format() -> None:
    assert format_timestamp(parse_ps_timestamp("20240305091244")) == "2024-03-05T09:12:44+08:00"


# ------------------------------------------------------------------------- money


@pytest.mark.parametrize("raw", ["45", "45.0", "45.00", " 45.00 ", "+45", "045.000", 45])
def test_yuan_forms_are_equal(raw) -> None:
    value, issue = parse_yuan(raw)
    assert issue is None
    assert value == Decimal(45)
    assert str(value) == "45.00"  # quantized to cents, not just numerically equal


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.5", (Decimal("0.50"), None)),
        (".5", (Decimal("0.50"), None)),
        ("12.345", (Decimal("12.35"), None)),
        ("0.005", (Decimal("0.01"), None)),
        ("1234567.89", (Decimal("1234567.89"), None)),
        ("0", (Decimal("0.00"), None)),
        ("-0.00", (Decimal("0.00"), None)),
        ("-45", (Decimal("-45.00"), "negative")),
        ("-12.30", (Decimal("-12.30"), "negative")),
        (Decimal(-1), (Decimal("-1.00"), "negative")),
        ("abc", (None, "bad_format")),
        ("45,00", (None, "bad_format")),
        ("1,000.00", (None, "bad_format")),
        ("1e3", (None, "bad_format")),
        ("NaN", (None, "bad_format")),
        ("Infinity", (None, "bad_format")),
        ("--1", (None, "bad_format")),
        (".", (None, "bad_format")),
        ("1.2.3", (None, "bad_format")),
        ("¥45", (None, "bad_format")),
        (True, (None, "bad_format")),
        (Decimal("NaN"), (None, "bad_format")),
        ("", (None, "empty")),
        ("  ", (None, "empty")),
        (None, (None, "empty")),
    ],
)
def test_parse_yuan(raw, expected) -> None:
    got = parse_yuan(raw)
    assert got == expected
    if got[0] is not None:
        assert got[0].as_tuple().exponent == -2
        assert not got[0].is_signed() or got[1] == "negative"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (4500, (Decimal("45.00"), None)),
        ("4500", (Decimal("45.00"), None)),
        (" 4500 ", (Decimal("45.00"), None)),
        (1, (Decimal("0.01"), None)),
        (99, (Decimal("0.99"), None)),
        (123456789, (Decimal("1234567.89"), None)),
        (0, (Decimal("0.00"), None)),
        ("0", (Decimal("0.00"), None)),
        (4500.0, (Decimal("45.00"), None)),
        (-4500, (Decimal("-45.00"), "negative")),
        ("-5", (Decimal("-0.05"), "negative")),
        ("45.00", (None, "bad_format")),
        (45.5, (None, "bad_format")),
        ("abc", (None, "bad_format")),
        ("4,500", (None, "bad_format")),
        (True, (None, "bad_format")),
        ("", (None, "empty")),
        (None, (None, "empty")),
    ],
)
def test_parse_fen(raw, expected) -> None:
    got = parse_fen(raw)
    assert got == expected
    if got[0] is not None:
        assert got[0].as_tuple().exponent == -2


def test_fen_and_yuan_agree() -> None:
    for fen in (0, 1, 10, 4500, 4599, 100000):
        assert parse_fen(fen)[0] == parse_yuan(f"{fen // 100}.{fen % 100:02d}")[0]


# --------------------------------------------------------------- gender, booleans


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("男", "M"),
        ("女", "F"),
        ("1", "M"),
        ("2", "F"),
        (1, "M"),
        (2, "F"),
        ("M", "M"),
        ("F", "F"),
        ("m", "M"),
        ("f", "F"),
        (" 男 ", "M"),
        ("１", "M"),
        ("Ｆ", "F"),
        ("0", None),
        ("9", None),
        ("", None),
        (None, None),
        ("未知", None),
        ("X", None),
        (True, None),
    ],
)
def test_parse_gender(raw, expected) -> None:
    assert parse_gender(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("false", False),
        ("True", True),
        (" FALSE ", False),
        ("1", True),
        ("0", False),
        (1, True),
        (0, False),
        (2, None),
        ("2", None),
        ("yes", None),
        ("", None),
        (None, None),
        (1.5, None),
        ([], None),
    ],
)
def test_parse_bool(raw, expected) -> None:
    assert parse_bool(raw) is expected


# ---------------------------------------------------------------------- public API


def test_public_api() -> None:
    expected = {
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
    }
    assert set(nz.__all__) == expected
    for name in expected:
        assert getattr(nz, name) is not None


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00"])
def test_a_timestamp_beyond_the_calendars_range_is_refused_not_an_overflow(raw: str) -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_timestamp(raw)
    with pytest.raises(ValueError, match="out of range"):
        parse_ps_timestamp("00010101000000")


def test_row_builder_remembers_only_fields_whose_values_repeat_and_converts_the_same_either_way() -> None:
    """Each field remembers what it made of the raw values it saw; after ``MEMO_PROBE``
    records a field whose values mostly differed (addresses) stops remembering, one whose
    values repeat (dates, districts) keeps on. The values are those of a fresh builder."""
    from sqlalchemy.dialects import sqlite

    from landing import transform
    from schemas.staging import STAGING

    spec = STAGING[("civil_affairs", "elders")]
    recs = [{"id_card_no": "370202194703150018", "name": "王 秀英", "birth_date": "1947-03-15",
             "district_code": "370203" if i % 2 else "370202", "address": f"市北区辽宁路{i}号",
             "phone": "13800138000", "ability_level": i % 4} for i in range(transform.MEMO_PROBE + 10)]
    builder = transform.RowBuilder(spec, sqlite.dialect())
    got = [builder.values(r) for r in recs]
    memo = {f.name: f.memo for f in builder._fields}
    assert memo["address"] is None
    assert memo["birth_date"] is not None and len(memo["birth_date"]) == 1
    assert memo["district_code"] is not None and len(memo["district_code"]) == 2
    for r, g in zip(recs[-20:], got[-20:], strict=True):
        assert transform.RowBuilder(spec, sqlite.dialect()).values(r) == g
