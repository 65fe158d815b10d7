"""Linking without a database: each comparison, ID repairs, names, survivorship, and the
resolver's passes on hand-made records."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta

import numpy as np
import pytest

from linking.comparisons import COMPARISONS, Comparison, ComparisonError, Profile, id_repairs
from linking.model import FSModel
from linking.names import homophones, name_key
from linking.publish import _by_votes, _most_held
from linking.records import Extra, LinkRecord, record_class
from linking.resolve import Decision, age_on, resolve
from linking.survivorship import golden
from tests.world import id_number

T0 = datetime(2024, 6, 1)
AS_OF = date(2024, 12, 31)
ID_A = id_number("370202", "19500101", 123)  # a man (odd sequence)
ID_B = id_number("370203", "19480512", 246)  # a woman


def rec(platform: str, resource: str, rid: str, i: int = 0, **kw) -> LinkRecord:
    r = record_class(platform, resource)(i, rid, kw.pop("updated_at", T0))
    for k, v in kw.items():
        setattr(r, k, v)
    if r.birth_year is None and r.birth is not None:
        r.birth_year = r.birth.year
    return r


def ps(rid: str, id18: str | None, name: str, birth: date, gender: str, **kw) -> LinkRecord:
    return rec("public_security", "residents", rid, id18=id18, id_clean=kw.pop("id_clean", id18), name=name,
               birth=birth, gender=gender, district=kw.pop("district", "370202"), ps_status=kw.pop("ps_status", "0"),
               **kw)


def ca(rid: str, id18: str | None, name: str, birth: date, gender: str, **kw) -> LinkRecord:
    return rec("civil_affairs", "elders", rid, id18=id18, id_clean=kw.pop("id_clean", id18), name=name, birth=birth,
               gender=gender, **kw)


def indexed(records: list[LinkRecord]) -> list[LinkRecord]:
    for i, r in enumerate(records):
        r.idx = i
    return records


def wrong_check(id18: str) -> str:
    return id18[:17] + ("0" if id18[17] != "0" else "1")


def transposed(id18: str, i: int = 14) -> str:
    return id18[:i] + id18[i + 1] + id18[i] + id18[i + 2:]


def profile(*records: LinkRecord) -> Profile:
    p = Profile()
    for r in records:
        p.add(r)
    return p


COMP = {c.name: c for c in COMPARISONS}


def level(name: str, r: LinkRecord, p: Profile) -> str | None:
    c = COMP[name]
    i = c.level(r, p)
    return None if i is None else c.levels[i]


# ----------------------------------------------------------------------- comparisons

def test_comparisons_are_validated_when_declared() -> None:
    with pytest.raises(ComparisonError, match="at least two levels"):
        Comparison("x", "", ("else",), lambda r, p: 0)
    with pytest.raises(ComparisonError, match="last level must be 'else'"):
        Comparison("x", "", ("exact", "other"), lambda r, p: 0)
    with pytest.raises(ComparisonError, match="unique"):
        Comparison("x", "", ("exact", "exact", "else"), lambda r, p: 0)


def test_id_number_levels() -> None:
    p = profile(ps("R1", ID_A, "张三", date(1950, 1, 1), "M"))
    other = id_number("370202", "19500101", 555)
    assert level("id_number", rec("health", "death-certificates", "D", id18=ID_A), p) == "exact"
    assert level("id_number", rec("h", "r", "D", id18=None, id_clean=wrong_check(ID_A)), p) == "one_error"
    assert level("id_number", rec("h", "r", "D", id18=None, id_clean=transposed(ID_A)), p) == "one_error"
    assert level("id_number", rec("h", "r", "D", id18=other), p) == "else"
    masked = rec("property_mgmt", "service-orders", "O", id_prefix=ID_A[:6], id_suffix=ID_A[14:])
    assert level("id_number", masked, p) is None
    assert level("masked_id", masked, p) == "agrees"
    masked.id_suffix = "0000"
    assert level("masked_id", masked, p) == "else"
    assert level("masked_id", rec("h", "r", "D", id18=ID_A), p) is None
    assert level("id_number", rec("h", "r", "D"), p) is None  # nothing to compare
    assert level("id_number", rec("h", "r", "D", id18=ID_A), Profile()) is None


def test_a_contradicted_number_is_noticed() -> None:
    """A valid number whose birth date or gender disagrees with the record's own."""
    r = ps("R1", ID_A, "张三", date(1951, 3, 3), "M")
    assert r.id_contradicted
    assert not ps("R1", ID_A, "张三", date(1950, 1, 1), "M").id_contradicted
    assert ps("R1", ID_A, "张三", date(1950, 1, 1), "F").id_contradicted


def test_name_levels() -> None:
    p = profile(ca("E1", ID_A, "郭英珍", date(1950, 1, 1), "M"))
    assert level("name", rec("h", "r", "x", name="郭英珍"), p) == "exact"
    assert level("name", rec("h", "r", "x", name="郭英贞"), p) == "homophone"  # zhēn / zhēn
    assert level("name", rec("h", "r", "x", name="郭英"), p) == "similar"
    assert level("name", rec("h", "r", "x", name="李明"), p) == "else"
    assert level("name", rec("h", "r", "x"), p) is None


def test_birth_gender_phone_district_community_levels() -> None:
    p = profile(ca("E1", ID_A, "张三", date(1950, 1, 1), "M", phone="13800000001", district="370202",
                   address="青岛市市南区香港中路花园小区3号楼"))
    assert level("birth", rec("h", "r", "x", birth=date(1950, 1, 1)), p) == "exact"
    assert level("birth", rec("h", "r", "x", birth=date(1950, 7, 9)), p) == "same_year"
    assert level("birth", rec("h", "r", "x", birth=date(1950, 1, 2)), p) == "one_digit"  # a typo
    assert level("birth", rec("h", "r", "x", birth=date(1951, 8, 8)), p) == "year_apart"
    assert level("birth", rec("h", "r", "x", birth=date(1962, 5, 5)), p) == "else"
    assert level("birth", rec("p", "o", "x", birth_year=1950), p) == "year_given_agrees"
    assert level("birth", rec("p", "o", "x", birth_year=1979), p) == "else"
    assert level("gender", rec("h", "r", "x", gender="M"), p) == "exact"
    assert level("gender", rec("h", "r", "x", gender="F"), p) == "else"
    assert level("phone", rec("h", "r", "x", phone="13800000001"), p) == "exact"
    assert level("phone", rec("h", "r", "x", phone="13900000001"), p) == "last4"
    assert level("phone", rec("h", "r", "x", phone="13900009999"), p) == "else"
    assert level("district", rec("h", "r", "x", district="370202"), p) == "exact"
    assert level("district", rec("h", "r", "x", district="370211"), p) == "else"
    assert level("community", rec("p", "o", "x", community="花园小区"), p) == "contained"
    assert level("community", rec("p", "o", "x", community="海景新村"), p) == "else"


def test_id_repairs_find_the_number_one_keying_error_away() -> None:
    assert ID_A in id_repairs(wrong_check(ID_A))
    for i in range(0, 16):
        t = transposed(ID_A, i)
        if t != ID_A:
            assert ID_A in id_repairs(t), i
    assert id_repairs("12345") == []
    assert id_repairs(None) == []


def test_homophones_and_name_keys() -> None:
    assert homophones("郭英贞", "郭英珍")
    assert homophones("张乐", "张月")  # 乐 reads lè or yuè
    assert not homophones("张三", "李三")
    assert not homophones("张三", "张三丰")
    assert name_key("郭英贞") == name_key("郭英珍")


def test_age_in_full_years() -> None:
    assert age_on(date(1964, 12, 31), date(2024, 12, 31)) == 60
    assert age_on(date(1965, 1, 1), date(2024, 12, 31)) == 59


# ---------------------------------------------------------------------- survivorship

def test_identity_comes_from_public_security_then_civil_affairs() -> None:
    rs = indexed([
        ca("E1", ID_A, "张叁", date(1950, 1, 1), "M", updated_at=T0 + timedelta(days=5)),
        ps("R1", ID_A, "张三", date(1950, 1, 1), "M"),
    ])
    g = golden(rs)
    assert (g["id_card_no"], g["name"]) == (ID_A, "张三")
    assert g["provenance"]["name"] == ["public_security", "residents", "R1"]
    # public security's number contradicts its own birth date: the number comes from civil affairs
    rs[1].birth = date(1955, 5, 5)
    g = golden(rs)
    assert g["provenance"]["id_card_no"] == ["civil_affairs", "elders", "E1"]
    # nobody else has a number: the valid one that disagrees is still better than none
    g = golden(indexed([rs[1]]))
    assert (g["id_card_no"], g["provenance"]["id_card_no"][0]) == (ID_A, "public_security")


def test_gender_and_birth_fall_back_to_what_the_number_encodes() -> None:
    g = golden(indexed([rec("medical_insurance", "ltc-enrolments", "L1", id18=ID_B)]))
    assert (g["gender"], g["birth_date"]) == ("F", date(1948, 5, 12))
    assert g["provenance"]["gender"] == ["medical_insurance", "ltc-enrolments", "L1"]


def test_status_and_death() -> None:
    dead = ps("R1", ID_A, "张三", date(1950, 1, 1), "M", ps_status="1", death_date=date(2024, 3, 31))
    assert (golden(indexed([dead]))["status"], golden(indexed([dead]))["death_date"]) == ("deceased", date(2024, 3, 31))
    moved = ps("R1", ID_A, "张三", date(1950, 1, 1), "M", ps_status="2")
    assert golden(indexed([moved]))["status"] == "moved_out"
    # public security still lists them as normal; the certificate is the second source
    cert = rec("health", "death-certificates", "D1", id18=ID_A, name="张三", death_date=date(2024, 2, 29))
    g = golden(indexed([ps("R1", ID_A, "张三", date(1950, 1, 1), "M"), cert]))
    assert (g["status"], g["death_date"]) == ("deceased", date(2024, 2, 29))
    assert g["provenance"]["status"] == ["health", "death-certificates", "D1"]
    # both give a date: public security's wins
    g = golden(indexed([dead, cert]))
    assert g["death_date"] == date(2024, 3, 31)
    assert g["provenance"]["death_date"] == ["public_security", "residents", "R1"]


def test_disability_is_the_newer_assessment_of_the_two_platforms() -> None:
    elder = ca("E1", ID_A, "张三", date(1950, 1, 1), "M",
               extra={"ability_level": 1, "ability_assessed_on": date(2024, 1, 10)})
    ltc = rec("medical_insurance", "ltc-enrolments", "L1", id18=ID_A,
              extra={"disability_level": 3, "assessed_on": date(2024, 4, 1)})
    g = golden(indexed([elder, ltc]))
    assert (g["disability_level"], g["provenance"]["disability_level"][0]) == (3, "medical_insurance")
    elder.extra["ability_assessed_on"] = date(2024, 5, 1)
    assert golden(indexed([elder, ltc]))["disability_level"] == 1


def test_phone_is_the_most_recent_confident_value() -> None:
    old = ca("E1", ID_A, "张三", date(1950, 1, 1), "M", phone="13800000001", updated_at=T0)
    newer = rec("property_mgmt", "service-orders", "O1", phone="13900000002", updated_at=T0 + timedelta(days=3))
    rs = indexed([old, newer])
    assert golden(rs)["phone"] == "13900000002"
    assert golden(rs, confident={0})["phone"] == "13800000001"  # the order was an uncertain link


def test_civil_affairs_fields_come_from_its_latest_record() -> None:
    a = ca("E1", ID_A, "张三", date(1950, 1, 1), "M", updated_at=T0, extra={"assistance_type": "dibao"})
    b = ca("E2", ID_A, "张三", date(1950, 1, 1), "M", updated_at=T0 + timedelta(1), extra={"assistance_type": "tekun"})
    g = golden(indexed([a, b]))
    assert g["assistance_type"] == "tekun" and g["provenance"]["assistance_type"][2] == "E2"


def test_survivorship_reads_the_loaded_records_extra_fields_as_it_reads_a_dict() -> None:
    """Loaded records hold their survivorship-only fields as an ``Extra`` (names shared by
    the resource, values in a tuple): read by name, a field the resource lacks is absent."""
    names = ("assistance_type", "ability_level", "ability_assessed_on")
    e = Extra(names, ("tekun", 3, date(2024, 5, 1)))
    assert e["assistance_type"] == "tekun" and e.get("ability_level") == 3 and e.get("disability_level") is None
    assert e.get("disability_level", 0) == 0
    with pytest.raises(KeyError):
        e["disability_level"]  # noqa: B018
    a = ca("E1", ID_A, "张三", date(1950, 1, 1), "M", updated_at=T0.timestamp(),
           extra=Extra(names, ("dibao", 2, date(2023, 1, 1))))
    b = ca("E2", ID_A, "张三", date(1950, 1, 1), "M", updated_at=(T0 + timedelta(1)).timestamp(), extra=e)
    g = golden(indexed([a, b]))
    assert g["assistance_type"] == "tekun" and g["provenance"]["assistance_type"][2] == "E2"
    assert g["disability_level"] == 3 and g["disability_assessed_on"] == date(2024, 5, 1)


def test_each_resources_records_hold_only_its_own_fields() -> None:
    """A resource's records have slots for the fields it carries only: the others read
    ``None`` and cannot be set; a copy with changes keeps the class; the base class is
    not a record."""
    residents = record_class("public_security", "residents")
    assert record_class("public_security", "residents") is residents
    r = residents(3, "R1", T0.timestamp(), 7, ID_A, ID_A, "张三", date(1950, 1, 1), "M", 1950, "370202",
                  "青岛市市南区香港中路1号", "0", None)
    assert (r.platform, r.resource, r.anchor, r.key) == ("public_security", "residents", True,
                                                         ("public_security", "residents", "R1"))
    assert (r.batch, r.district, r.address, r.phone, r.community, r.extra) == (
        7, "370202", "青岛市市南区香港中路1号", None, None, None)
    with pytest.raises(AttributeError):
        r.phone = "13800000000"
    orders = record_class("property_mgmt", "service-orders")
    o = orders(0, "O1", name="张三", id_prefix="370202", id_suffix="1234")
    assert (o.anchor, o.batch, o.id18, o.district, o.id_prefix) == (False, 0, None, None, "370202")
    filled = o.replace(birth_year=1950, phone="13800000000")
    assert type(filled) is orders and (filled.birth_year, filled.phone, filled.name, filled.idx) == (
        1950, "13800000000", "张三", 0)
    assert o.birth_year is None and o.phone is None  # the original is untouched
    with pytest.raises(AttributeError, match="no field district"):
        o.replace(district="370202")
    with pytest.raises(TypeError, match="record_class"):
        LinkRecord(0, "public_security", "residents", "R1")
    assert sys.getsizeof(o) < sys.getsizeof(record_class("x", "y")(0, "X1"))  # (a resource of a test: every field)


# -------------------------------------------------------------------------- resolver

def _world() -> list[LinkRecord]:
    """Persons with enough neighbours that the model has something to learn from."""
    out: list[LinkRecord] = []
    surnames, given = "王李张刘陈杨赵黄周吴", "秀英桂兰玉明华建国志强"
    for k in range(120):
        id18 = id_number("3702" + f"{k % 10 + 2:02d}", f"19{40 + k % 20}0{k % 9 + 1}1{k % 9}", 100 + k)
        born = date(1940 + k % 20, k % 9 + 1, 10 + k % 9)
        name = surnames[k % 10] + given[k % 11] + given[(k * 7) % 11]
        sex = "M" if int(id18[16]) % 2 else "F"
        out.append(ps(f"R{k}", id18, name, born, sex, address=f"青岛市小区{k}号"))
        out.append(ca(f"E{k}", id18, name, born, sex, phone=f"1380000{k:04d}"))
        out.append(rec("medical_insurance", "insured-persons", f"I{k}", id18=id18, id_clean=id18, name=name,
                       birth=born, gender=sex))
        out.append(rec("property_mgmt", "service-orders", f"O{k}", name=name, phone=f"1380000{k:04d}",
                       id_prefix=id18[:6], id_suffix=id18[14:], birth_year=born.year))
    return out


def _person_of(res, key):  # noqa: ANN001, ANN202
    idx = next(r.idx for r in res.records if r.key == key)
    return res.person_of[idx]


def test_resolver_links_by_number_then_probabilistically() -> None:
    base = _world()
    p0 = base[0]
    assert "秀" in p0.name  # the homophone below needs it
    extra = [
        # the same person registered twice with civil affairs (another district)
        ca("E-dup", p0.id18, p0.name, p0.birth, p0.gender, district="370211"),
        # a wrong check digit and a transposition, with name and birth date agreeing
        rec("health", "family-doctor-contracts", "C-check", id_clean=wrong_check(p0.id18), name=p0.name,
            birth=p0.birth, gender=p0.gender),
        rec("medical_insurance", "insured-persons", "I-swap", id_clean=transposed(p0.id18, 10), name=p0.name,
            birth=p0.birth, gender=p0.gender),
        # no number at all, a homophone of the name, birth date agreeing
        rec("health", "family-doctor-contracts", "C-none", name=p0.name.replace("秀", "绣"), birth=p0.birth,
            gender=p0.gender),
        # a 45-year-old with the same name, masked number and phone of nobody in the registry
        rec("property_mgmt", "service-orders", "O-young", name=p0.name, phone="13911112222",
            id_prefix="370205", id_suffix="9999", birth_year=1979),
        # a number the registry does not know: somebody who is not an elder
        rec("medical_insurance", "insured-persons", "I-young", id18=id_number("370202", "19790101", 1),
            name="赵小明", birth=date(1979, 1, 1), gender="M"),
    ]
    records = indexed(base + extra)
    res = resolve(records, AS_OF)
    home = _person_of(res, ("public_security", "residents", "R0"))
    for key in (("civil_affairs", "elders", "E-dup"), ("health", "family-doctor-contracts", "C-check"),
                ("medical_insurance", "insured-persons", "I-swap"), ("health", "family-doctor-contracts", "C-none"),
                ("property_mgmt", "service-orders", "O0")):
        assert _person_of(res, key) == home, key
    assert _person_of(res, ("property_mgmt", "service-orders", "O-young")) is None
    assert _person_of(res, ("medical_insurance", "insured-persons", "I-young")) is None
    assert res.stats["persons"] == 120
    # every order of the world found its person
    for k in range(120):
        assert _person_of(res, ("property_mgmt", "service-orders", f"O{k}")) == \
            _person_of(res, ("public_security", "residents", f"R{k}"))


def test_judging_and_comparing_a_chunk_at_a_time_decides_as_all_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A city's candidate pairs are compared and judged in chunks (memory stays flat):
    chunks of a few records give the same model, links, confidences and review items as
    one chunk — also with broken anchors that join or found persons between the passes,
    whose changed profiles are compared anew."""
    import linking.resolve as resolve_module

    p0, p1 = _world()[0], _world()[1]
    extra = [ps("R-broken", None, p0.name, p0.birth, p0.gender, id_clean=wrong_check(p0.id18)),
             ca("E-none", None, "欧阳修文", date(1944, 4, 4), "M"),
             rec("health", "family-doctor-contracts", "C-none", name="欧阳修文", birth=date(1944, 4, 4), gender="M"),
             rec("health", "family-doctor-contracts", "C-swap", id_clean=transposed(p1.id18, 10), name=p1.name,
                 birth=p1.birth, gender=p1.gender),
             rec("property_mgmt", "service-orders", "O-vague", name=p1.name, birth_year=p1.birth.year)]
    whole = resolve(indexed(_world() + extra), AS_OF)
    monkeypatch.setattr(resolve_module, "_JUDGE_CHUNK", 3)
    monkeypatch.setattr(resolve_module, "_PAIR_CHUNK", 5)
    chunked = resolve(indexed(_world() + extra), AS_OF)
    assert chunked.model.to_dict() == whole.model.to_dict()
    assert (chunked.person_of, chunked.confidence, chunked.method) == (whole.person_of, whole.confidence, whole.method)
    assert [(i.record, i.person, i.probability) for i in chunked.review] == \
        [(i.record, i.person, i.probability) for i in whole.review]
    assert chunked.state == whole.state
    assert whole.method.count("probabilistic") > 100  # the orders of the world, at least


def test_an_anchor_matching_nobody_founds_a_person_and_non_elders_are_left_out() -> None:
    records = indexed(_world() + [
        ca("E-broken", None, "欧阳修文", date(1944, 4, 4), "M", id_clean="37020219440404ABCD"),
        ps("R-young", id_number("370202", "19700101", 11), "钱多多", date(1970, 1, 1), "M"),
    ])
    res = resolve(records, AS_OF)
    assert _person_of(res, ("civil_affairs", "elders", "E-broken")) is not None
    assert res.method[records[-2].idx] == "anchor"
    assert _person_of(res, ("public_security", "residents", "R-young")) is None
    assert res.method[records[-1].idx] == "not_elder"


def test_died_at_59_is_not_an_elder_but_died_at_60_is() -> None:
    r59 = ps("R59", id_number("370202", "19600601", 21), "孙甲", date(1960, 6, 1), "M", ps_status="1",
             death_date=date(2020, 5, 31))
    r60 = ps("R60", id_number("370202", "19600601", 23), "孙乙", date(1960, 6, 1), "M", ps_status="1",
             death_date=date(2020, 6, 1))
    res = resolve(indexed([r59, r60]), AS_OF)
    assert res.person_of[0] is None and res.person_of[1] is not None


def test_steward_decisions_override_the_model() -> None:
    base = _world()
    records = indexed(base)
    res = resolve(records, AS_OF)
    order, home = ("property_mgmt", "service-orders", "O3"), ("public_security", "residents", "R3")
    assert _person_of(res, order) == _person_of(res, home)
    res = resolve(records, AS_OF, decisions=[Decision(order, home, "cannot_link")])
    assert _person_of(res, order) != _person_of(res, home)
    elsewhere = ("public_security", "residents", "R7")
    res = resolve(records, AS_OF, decisions=[Decision(order, elsewhere, "must_link")])
    assert _person_of(res, order) == _person_of(res, elsewhere)
    assert res.method[next(r.idx for r in records if r.key == order)] == "steward"


def test_two_equally_good_candidates_go_to_review_not_to_either() -> None:
    base = _world()
    p0 = base[0]
    twin_id = id_number("370299", p0.birth.strftime("%Y%m%d"), 777 if p0.gender == "M" else 778)
    twins = [ps("R-twin", twin_id, p0.name, p0.birth, p0.gender)]
    order = rec("health", "family-doctor-contracts", "C-amb", name=p0.name, birth=p0.birth, gender=p0.gender)
    records = indexed(base + twins + [order])
    res = resolve(records, AS_OF)
    assert res.person_of[twins[0].idx] not in (None, res.person_of[0])  # a person of their own
    assert res.person_of[order.idx] is None
    assert res.method[order.idx] in ("review", "unmatched")


def test_numbers_contradicting_their_records_still_link_where_the_rest_agrees() -> None:
    base = _world()
    p1, p2 = base[4], base[8]
    assert p1.resource == p2.resource == "residents"
    # the insured-person record's gender field disagrees with its (right) number
    flipped = "F" if p1.gender == "M" else "M"
    insured = rec("medical_insurance", "insured-persons", "I-flip", id18=p1.id18, id_clean=p1.id18, name=p1.name,
                  birth=p1.birth, gender=flipped)
    # public security's own birth date disagrees with its number; a contract has the number
    wrong_birth = p2.birth.replace(year=p2.birth.year - 3)
    records = indexed(base + [insured, rec("health", "family-doctor-contracts", "C-p2", id18=p2.id18,
                                           id_clean=p2.id18, name=p2.name, birth=p2.birth, gender=p2.gender)])
    records[8].birth = wrong_birth
    res = resolve(records, AS_OF)
    assert insured.id_contradicted and records[8].id_contradicted
    assert _person_of(res, insured.key) == _person_of(res, p1.key)
    assert _person_of(res, ("health", "family-doctor-contracts", "C-p2")) == _person_of(res, p2.key)
    assert res.method[insured.idx] == "probabilistic"


def test_cannot_link_separates_two_people_who_share_one_number() -> None:
    """Two real people under one number (an issuing error): a steward's cannot-link keeps
    them apart, even in the deterministic pass."""
    base = _world()
    p0 = base[0]
    other = ca("E-other", p0.id18, "欧阳春", p0.birth, p0.gender)  # trustworthy, by every check
    records = indexed(base + [other])
    res = resolve(records, AS_OF)
    assert _person_of(res, other.key) == _person_of(res, p0.key)
    res = resolve(records, AS_OF, decisions=[Decision(other.key, p0.key, "cannot_link")])
    assert _person_of(res, other.key) not in (None, _person_of(res, p0.key))


def test_linking_runs_with_the_cyclic_collector_paused_and_restores_it(monkeypatch) -> None:
    import gc

    from linking import run as link_run

    seen = []
    monkeypatch.setattr(link_run, "_link", lambda *a, **kw: seen.append(gc.isenabled()) or "done")
    assert gc.isenabled()
    assert link_run.link() == "done" and seen == [False]
    assert gc.isenabled()
    with pytest.raises(RuntimeError), link_run.collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("a failed run")
    assert gc.isenabled()


# -------------------------------------------------------------------------- incremental

def _outcome(res) -> dict:  # noqa: ANN001
    """A resolution as keys: who each record is linked to (by the person's first anchor),
    how, how confidently; and the review queue."""
    first = {p: res.records[m[0]].key for p, m in enumerate(res.persons) if m}
    links = {r.key: (first.get(res.person_of[r.idx]), res.method[r.idx], round(res.confidence[r.idx], 9))
             for r in res.records}
    review = sorted((res.records[it.record].key, first[it.person], round(it.probability, 9)) for it in res.review)
    return {"links": links, "review": review}


def test_an_incremental_resolution_equals_a_full_one_with_the_same_model() -> None:
    day1 = indexed(_world())
    first = resolve(day1, AS_OF)
    assert first.state and all(row[0] == 0 for row in first.state.values())
    # the model as stored and read back
    model = FSModel.from_dict(first.model.to_dict(), COMPARISONS)

    day2 = [r for r in _world() if r.key not in {("civil_affairs", "elders", "E9"), ("property_mgmt", "service-orders", "O9")}]
    by_key = {r.key: r for r in day2}
    p0, p7 = by_key[("public_security", "residents", "R0")], by_key[("public_security", "residents", "R7")]
    # a new version of an anchor: person 7 changes name (their order must be judged again)
    p7.name, p7.batch = "欧阳" + p7.name[1:], 2
    by_key[("civil_affairs", "elders", "E7")].name = p7.name
    by_key[("civil_affairs", "elders", "E7")].batch = 2
    # a new version of an order: another phone
    by_key[("property_mgmt", "service-orders", "O5")].phone, by_key[("property_mgmt", "service-orders", "O5")].batch = \
        "13999990000", 2
    # a newcomer as like person 0 as a different person can be: person 0's order now has a rival
    twin = id_number("370299", p0.birth.strftime("%Y%m%d"), 777 if p0.gender == "M" else 778)
    newcomer = [ps("R-new", twin, p0.name, p0.birth, p0.gender, batch=2),
                ca("E-new", twin, p0.name, p0.birth, p0.gender, batch=2),
                rec("health", "family-doctor-contracts", "C-new", name="钱多多", birth=date(1944, 4, 4), gender="M",
                    batch=2)]
    day2 = indexed(day2 + newcomer)

    full = resolve(day2, AS_OF, model=model)
    inc = resolve(day2, AS_OF, model=model, previous=first.state)
    assert _outcome(inc) == _outcome(full)
    assert inc.state == full.state
    # most decisions were reused; the ones a change touched were made again
    judged = len(full.state)
    assert 0.8 * judged < inc.stats["reused"] < judged
    # person 0's order now has a rival sharing name and birth year: less certain than before
    order0 = ("property_mgmt", "service-orders", "O0")
    assert inc.state[order0][1] != first.state[order0][1]
    assert _outcome(inc)["links"][order0][2] < _outcome(first)["links"][order0][2]
    assert _outcome(inc)["links"][("property_mgmt", "service-orders", "O7")] != \
        _outcome(first)["links"][("property_mgmt", "service-orders", "O7")]


def test_a_stored_model_reads_back_exactly_and_only_for_its_comparisons() -> None:
    model = resolve(indexed(_world()), AS_OF).model
    back = FSModel.from_dict(model.to_dict(), COMPARISONS)
    assert back.persons == model.persons == 120
    for a, b in zip(model.m + model.u, back.m + back.u, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(model.prior, back.prior)
    with pytest.raises(ValueError, match="other comparisons"):
        FSModel.from_dict(model.to_dict(), COMPARISONS[:-1])


def test_em_a_chunk_of_records_at_a_time_estimates_what_em_over_all_pairs_does(monkeypatch) -> None:  # noqa: ANN001
    """EM takes a city's candidate pairs a chunk of records at a time (its temporaries stay
    small); chunks never split a record's candidates, so the model is the one EM over all
    pairs at once gives, but for the order floating-point sums are added in."""
    import linking.model as fs

    rng = np.random.default_rng(7)
    k = len(COMPARISONS)
    n_records = 400
    groups = np.sort(rng.integers(0, n_records, 3_000))  # up to ~20 candidates a record
    vectors = np.stack([rng.integers(-1, len(c.levels), len(groups)) for c in COMPARISONS], axis=1).astype(np.int8)
    random_v = np.stack([rng.integers(0, len(c.levels), 5_000) for c in COMPARISONS], axis=1).astype(np.int8)
    labelled = np.zeros((200, k), dtype=np.int8)  # the labelled matches agree on everything
    classes = rng.integers(0, 3, n_records)

    def em():  # noqa: ANN202
        return fs.estimate(COMPARISONS, random_v, labelled, vectors, groups, classes, 1_000)

    whole = em()
    monkeypatch.setattr(fs, "_EM_CHUNK", 37)
    chunked = em()
    assert chunked.iterations == whole.iterations > 1
    for a, b in zip(whole.m + [whole.prior], chunked.m + [chunked.prior], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_withdrawn_steward_decision_has_its_record_judged_again() -> None:
    records = indexed(_world())
    order, home = ("property_mgmt", "service-orders", "O3"), ("public_security", "residents", "R3")
    kept_apart = resolve(records, AS_OF, decisions=[Decision(order, home, "cannot_link")])
    assert _person_of(kept_apart, order) != _person_of(kept_apart, home)
    inc = resolve(records, AS_OF, model=kept_apart.model, previous=kept_apart.state)  # the decision withdrawn
    assert _outcome(inc) == _outcome(resolve(records, AS_OF, model=kept_apart.model))
    assert _person_of(inc, order) == _person_of(inc, home)


def _orders_at_one_flat(person: LinkRecord, tag: str, *masks: tuple[str, str] | None,
                        phone: str | None = None) -> list[LinkRecord]:
    """Orders for ``person``'s name at one flat: one per entry of ``masks`` (a masked number,
    or None for an order that leaves it out, and the birth year and phone too)."""
    out = []
    for k, mask in enumerate(masks):
        kw = {"id_prefix": mask[0], "id_suffix": mask[1], "birth_year": person.birth.year, "phone": phone} \
            if mask else {}
        out.append(rec("property_mgmt", "service-orders", f"O-{tag}-{k}", name=person.name, community="海景花园",
                       building="3号楼", room="2单元101", **kw))
    return out


def test_an_order_is_judged_with_what_its_flats_other_orders_say() -> None:
    base = _world()
    p5, p6 = base[5 * 4], base[6 * 4]
    mask5 = (p5.id18[:6], p5.id18[14:])
    # alone, an order with nothing but a name finds nobody
    bare = _orders_at_one_flat(p5, "a", None)
    res = resolve(indexed(base + bare), AS_OF)
    assert _person_of(res, bare[0].key) is None
    # beside an order of the same name at the same flat that gives the masked number and
    # the birth year, it joins that order's person — and keeps what the platform sent
    flat = _orders_at_one_flat(p5, "b", None, mask5)
    res = resolve(indexed(base + flat), AS_OF)
    assert _person_of(res, flat[0].key) == _person_of(res, flat[1].key) == _person_of(res, p5.key)
    assert res.method[flat[0].idx] == "probabilistic"
    assert flat[0].id_prefix is None and flat[0].birth_year is None
    assert res.records[flat[0].idx] is flat[0]
    # the same when the bare order's name was keyed in by ear (a homophone)
    assert "明" in p5.name
    flat[0].name = p5.name.replace("明", "鸣")
    res = resolve(indexed(base + flat), AS_OF)
    assert _person_of(res, flat[0].key) == _person_of(res, p5.key)
    # orders of one name and flat that disagree on the masked number may be two residents:
    # the order without one borrows nothing
    split = _orders_at_one_flat(p6, "c", None, (p6.id18[:6], p6.id18[14:]), (p6.id18[:6], "0000"))
    res = resolve(indexed(base + split), AS_OF)
    assert _person_of(res, split[0].key) is None
    assert _person_of(res, split[1].key) == _person_of(res, p6.key)


def test_an_order_borrowing_from_its_flat_is_judged_again_when_what_it_borrows_changes() -> None:
    base = _world()
    p5 = base[5 * 4]
    mask5 = (p5.id18[:6], p5.id18[14:])
    day1 = indexed(base + _orders_at_one_flat(p5, "b", None, mask5, phone=base[5 * 4 + 1].phone))
    first = resolve(day1, AS_OF)
    model = FSModel.from_dict(first.model.to_dict(), COMPARISONS)
    bare = ("property_mgmt", "service-orders", "O-b-0")
    assert _person_of(first, bare) == _person_of(first, p5.key)
    # the next day the flat's other order gives another phone: the bare order's own version
    # and its candidates are the same, yet what it borrows is not
    day2 = base + _orders_at_one_flat(p5, "b", None, mask5, phone="13999990000")
    day2[-1].batch = 2
    day2 = indexed(day2)
    full = resolve(day2, AS_OF, model=model)
    inc = resolve(day2, AS_OF, model=model, previous=first.state)
    assert _outcome(inc) == _outcome(full)
    assert inc.state == full.state
    assert inc.state[bare][1] != first.state[bare][1]
    def confidence(res) -> float:  # noqa: ANN001
        return res.confidence[next(r.idx for r in res.records if r.key == bare)]

    assert confidence(inc) < confidence(first)  # the borrowed phone no longer agrees


def test_a_steward_sees_which_values_an_order_borrowed_from_its_flat() -> None:
    base = _world()
    p0 = base[0]
    twin_id = id_number("370299", p0.birth.strftime("%Y%m%d"), 777 if p0.gender == "M" else 778)
    twin = ps("R-twin", twin_id, p0.name, p0.birth, p0.gender)
    # two orders of p0's name at one flat; only the second gives a birth year, which p0
    # and the twin share: the first, judged with it, could be either
    flat = _orders_at_one_flat(p0, "d", None, None)
    flat[1].birth_year = p0.birth.year
    res = resolve(indexed(base + [twin] + flat), AS_OF)
    assert res.method[flat[0].idx] == "review"
    items = [it for it in res.review if it.record == flat[0].idx]
    assert {it.person for it in items} == {res.person_of[0], res.person_of[twin.idx]}
    for it in items:
        marks = {e["comparison"]: e.get("borrowed") for e in it.explanation}
        assert marks["birth"] and not marks["name"] and not marks["masked_id"]
    # the order that gave the year is judged with its own: nothing marked
    own = [it for it in res.review if it.record == flat[1].idx]
    assert own and not any(e.get("borrowed") for it in own for e in it.explanation)


def test_an_anchor_that_probably_is_somebody_founds_a_person_and_goes_to_review() -> None:
    base = _world()
    p0 = base[0]
    twin_id = id_number("370299", p0.birth.strftime("%Y%m%d"), 777 if p0.gender == "M" else 778)
    twin = ps("R-twin", twin_id, p0.name, p0.birth, p0.gender)
    # a second civil-affairs registration without its number: p0 or the twin, nobody can
    # say which — it founds a person of its own (every anchor belongs to somebody), and
    # the stewards see both candidates
    dup = ca("E-dup2", None, p0.name, p0.birth, p0.gender, id_clean=None)
    records = indexed(base + [twin, dup])
    res = resolve(records, AS_OF)
    assert res.method[dup.idx] == "anchor"
    assert res.person_of[dup.idx] not in (res.person_of[0], res.person_of[twin.idx])
    assert {it.person for it in res.review if it.record == dup.idx} == {res.person_of[0], res.person_of[twin.idx]}
    # a steward's must-link joins it to p0
    res = resolve(records, AS_OF, decisions=[Decision(dup.key, p0.key, "must_link")])
    assert res.person_of[dup.idx] == res.person_of[0]
    assert not [it for it in res.review if it.record == dup.idx]


def test_a_birth_date_typo_in_public_security_neither_drops_an_elder_nor_reaches_the_golden_record() -> None:
    """Public security's field says 1966 (58 on the day), its own valid number and civil
    affairs say 1960: the number's date stands, in the registry and in its membership."""
    number = id_number("370202", "19600315", 17)
    records = indexed([ps("R1", number, "周七", date(1966, 3, 15), "M"),
                       ca("E1", number, "周七", date(1960, 3, 15), "M")])
    res = resolve(records, AS_OF)
    assert res.person_of[0] is not None and res.person_of[0] == res.person_of[1]
    g = golden(records)
    assert (g["id_card_no"], g["birth_date"]) == (number, date(1960, 3, 15))
    assert g["provenance"]["birth_date"] == ["civil_affairs", "elders", "E1"]


def test_a_death_certificate_outranks_moved_out() -> None:
    moved = ps("R1", ID_A, "张三", date(1950, 1, 1), "M", ps_status="2")
    cert = rec("health", "death-certificates", "D1", id18=ID_A, name="张三", death_date=date(2024, 2, 29))
    g = golden(indexed([moved, cert]))
    assert (g["status"], g["death_date"]) == ("deceased", date(2024, 2, 29))
    assert g["provenance"]["status"] == ["health", "death-certificates", "D1"]


def test_other_scripts_digits_in_a_broken_number_do_not_stop_the_run() -> None:
    """``str.isdigit`` accepts Ethiopic or superscript digits that ``int`` refuses: a
    number holding one is broken, and must not abort the resolution of everyone."""
    odd = ID_A[:10] + "\u1369" + ID_A[11:]  # ETHIOPIC DIGIT ONE
    assert id_repairs(odd) == []
    records = indexed(_world() + [ca("E-odd", None, "张三", date(1950, 1, 1), "M", id_clean=odd),
                                  rec("health", "family-doctor-contracts", "F-odd", id_clean=odd, name="张三",
                                      birth=date(1950, 1, 1), gender="M")])
    res = resolve(records, AS_OF)
    assert res.person_of[records[-2].idx] is not None


def test_a_name_in_latin_script_matches_in_any_case() -> None:
    p = profile(ca("E1", ID_A, "John Smith", date(1950, 1, 1), "M"))
    assert level("name", ca("E2", None, "JOHN SMITH", date(1950, 1, 1), "M"), p) == "exact"
    assert name_key("JOHN SMITH") == name_key("John Smith")


def test_a_comparison_or_blocking_that_fails_on_one_record_does_not_stop_the_run(monkeypatch, caplog) -> None:  # noqa: ANN001
    """Whatever odd value a platform sends, one record's failure is no evidence for that
    record — logged by its keys and the error's kind, never its values — not a stopped city."""
    import linking.comparisons as comps
    from linking.resolve import _Persons

    real_homophones, real_candidates = comps.homophones, _Persons._candidates

    def homophones_(a: str, b: str) -> bool:
        if "怪" in a:
            raise ValueError(f"cannot read {a}")
        return real_homophones(a, b)

    def candidates_(self, r):  # noqa: ANN001, ANN202
        if r.record_id == "E-odd2":
            raise KeyError(r.name)
        return real_candidates(self, r)

    monkeypatch.setattr(comps, "homophones", homophones_)
    monkeypatch.setattr(_Persons, "_candidates", candidates_)
    name = COMPARISONS.index(next(c for c in COMPARISONS if c.name == "name"))
    odd = ca("E-odd", None, "欧阳怪", date(1950, 1, 1), "M", id_clean=ID_A[:17] + "Z")
    vec = comps.comparison_vector(odd, profile(ca("E1", ID_A, "张三", date(1950, 1, 1), "M")))
    assert vec[name] is None and any(v is not None for v in vec)
    odd2 = ca("E-odd2", None, "欧阳修", date(1951, 1, 1), "F", id_clean="37020219510101ZZZZ")
    records = indexed(_world() + [odd, odd2])
    res = resolve(records, AS_OF)  # completes: both founded persons of their own or were judged
    assert res.method[odd2.idx] == "anchor"
    assert "E-odd" in caplog.text and "E-odd2" in caplog.text and "欧阳" not in caplog.text


def test_a_blocking_key_too_common_alone_still_gives_the_namesake_who_agrees_on_more() -> None:
    from linking.resolve import _BLOCK_CAP, _Persons

    # a city's worth of one common name born in one year: more persons than the key may
    # name alone, one of them living in the community the order was served in
    namesakes = indexed([ca(f"E{k}", id_number("370202", f"1950{k % 12 + 1:02d}{k % 28 + 1:02d}", 200 + k), "王秀英",
                            date(1950, k % 12 + 1, k % 28 + 1), "F", address=f"青岛市市南区小区{k}号楼",
                            phone=f"1380000{k:04d}") for k in range(_BLOCK_CAP + 10)])
    namesakes[17].address = "青岛市市南区海景花园3号楼"
    persons = _Persons()
    for r in namesakes:
        persons.add_anchor(persons.new(), r)
    order = rec("property_mgmt", "service-orders", "O-common", len(namesakes), name="王秀英", birth_year=1950,
                community="海景花园", building="3号楼", room="101")
    assert persons.candidates(order) == {17}
    # a person who gains a record (an address in that community) is seen at once
    persons.add_anchor(40, ps("R40", namesakes[40].id18, "王秀英", namesakes[40].birth, "F",
                              address="青岛市市南区海景花园5号楼"))
    assert persons.candidates(order) == {17, 40}
    # a phone the order gives names its person among them too; nothing agreeing, nobody
    order.community, order.phone = None, "13800000031"
    assert persons.candidates(order) == {31}
    order.phone = "13999999999"
    assert persons.candidates(order) == set()
    # a key held by few persons needs no second value
    few = _Persons()
    for r in namesakes[:3]:
        few.add_anchor(few.new(), r)
    assert few.candidates(order) == {0, 1, 2}


def test_a_masked_number_many_elders_share_names_only_those_agreeing_on_more(monkeypatch: pytest.MonkeyPatch) -> None:
    """At a city's size ~16 elders share one masked number (area + last four digits): a
    block of more than ``_CAP_OF["mask"]`` names only those who also agree with the order
    on the name, birth year, phone or community; a smaller block names all of them."""
    from linking.resolve import _CAP_OF, _Persons

    numbers: dict[str, list[str]] = {}
    for year in range(1930, 1965):
        for month in range(1, 13):
            n = id_number("370202", f"{year}{month:02d}15", 417)
            numbers.setdefault(n[14:], []).append(n)
    shared = max(numbers.values(), key=len)[: _CAP_OF["mask"] + 4]
    assert len(shared) > _CAP_OF["mask"]
    names = ["王秀英", "李桂兰", "张淑珍", "刘玉兰", "陈凤英", "杨秀兰"]
    elders = indexed([ca(f"E{k}", n, names[k % len(names)], date(int(n[6:10]), int(n[10:12]), 15), "M",
                         address=f"青岛市市南区小区{k}号楼", phone=f"1380000{k:04d}") for k, n in enumerate(shared)])
    elders[5].address = "青岛市市南区海景花园3号楼"
    persons = _Persons()
    for r in elders:
        persons.add_anchor(persons.new(), r)
    masked = dict(id_prefix="370202", id_suffix=shared[0][14:])
    order = rec("property_mgmt", "service-orders", "O-1", len(elders), name="周大福", community="海景花园", **masked)
    assert persons.candidates(order) == {5}  # the community, nothing else
    order.name = names[1]
    assert persons.candidates(order) == {5} | {k for k in range(len(elders)) if k % len(names) == 1}
    order.name, order.community, order.birth_year = "周大福", None, elders[3].birth.year
    assert persons.candidates(order) == {k for k, r in enumerate(elders) if r.birth.year == elders[3].birth.year}
    order.birth_year, order.phone = None, "13800000007"
    assert persons.candidates(order) == {7}
    order.phone = None
    assert persons.candidates(order) == set()  # the masked number alone says too little here
    few = _Persons()
    for r in elders[: _CAP_OF["mask"]]:
        few.add_anchor(few.new(), r)
    assert few.candidates(order) == set(range(_CAP_OF["mask"]))  # … but enough among a few
    # many records at once, and in the order of their masked numbers, a chunk at a time: the same
    others = [rec("property_mgmt", "service-orders", f"O-{k}", 50 + k, name=names[k % 6], birth_year=1930 + k,
                  community="海景花园" if k % 3 else None, phone="13800000004" if k == 4 else None,
                  **(masked if k % 2 else {})) for k in range(12)]
    batch = [order, *others, elders[2]]
    assert persons.candidates_of(batch) == [sorted(persons.candidates(r)) for r in batch]
    import linking.resolve as resolve_module

    monkeypatch.setattr(resolve_module, "_JUDGE_CHUNK", 4)
    chunks = list(resolve_module._in_mask_order(batch))
    assert [len(c) for c in chunks] == [4, 4, 4, 2]
    in_order = [r for c in chunks for r in c]
    assert sorted(in_order, key=lambda r: r.record_id) == sorted(batch, key=lambda r: r.record_id)
    masks = [(r.id_prefix or "", r.id_suffix or "") for r in in_order]
    assert masks == sorted(masks)
    assert [persons.candidates_of(c) for c in chunks] == [[sorted(persons.candidates(r)) for r in c] for c in chunks]


def test_records_carrying_a_number_only_a_linked_record_holds_join_its_person() -> None:
    """Public security's number is broken, so no anchor holds the person's number; the
    insured-person record carrying it links by its name and birth date. A death
    certificate and a care enrolment carrying only that number (and a name) then join the
    same person — the number names them — instead of staying unlinked, and the death
    reaches the golden record."""
    number = id_number("370214", "19500420", 31)
    base = _world()
    anchor = ps("R-broken", None, "栾大成", date(1950, 4, 20), "M", id_clean=wrong_check(number))
    insured = rec("medical_insurance", "insured-persons", "I-right", id18=number, id_clean=number, name="栾大成",
                  birth=date(1950, 4, 20), gender="M")
    cert = rec("health", "death-certificates", "D-right", id18=number, id_clean=number, name="栾大成",
               death_date=date(2024, 10, 1))
    care = rec("medical_insurance", "ltc-enrolments", "L-right", id18=number, id_clean=number)
    records = indexed(base + [anchor, insured, cert, care])
    res = resolve(records, AS_OF)
    pid = res.person_of[anchor.idx]
    assert pid is not None and res.person_of[insured.idx] == pid
    assert res.person_of[cert.idx] == pid and res.person_of[care.idx] == pid
    assert res.method[cert.idx] == res.method[care.idx] == "id"
    assert res.confidence[cert.idx] >= 0.99
    assert not [it for it in res.review if it.record in (cert.idx, care.idx)]
    g = golden([records[i] for i in res.persons[pid]])
    assert (g["id_card_no"], g["status"], g["death_date"]) == (number, "deceased", date(2024, 10, 1))
    # a number whose linked records are two persons' (a steward put one with another
    # person) names neither of them
    other = rec("medical_insurance", "insured-persons", "I-other", id18=number, id_clean=number, name="栾大成",
                birth=date(1950, 4, 20), gender="M")
    records = indexed(base + [anchor, insured, cert, care, other])
    res = resolve(records, AS_OF, decisions=[Decision(other.key, base[0].key, "must_link")])
    assert res.person_of[other.idx] == res.person_of[0] != res.person_of[insured.idx]
    assert res.person_of[cert.idx] is None and res.person_of[care.idx] is None


def test_a_number_the_registry_publishes_gives_the_birth_date_and_gender_and_so_who_is_an_elder() -> None:
    """Public security's own valid number says 1964-06-01 (60 on the day) and a man; its
    birth-date field says a year later (59) — the insured-person record agrees with the
    number. The person stays in the registry, born when the number says."""
    number = id_number("370213", "19640601", 15)
    resident = ps("R1", number, "逄国庆", date(1965, 6, 1), "M")
    insured = rec("medical_insurance", "insured-persons", "I1", id18=number, id_clean=number, name="逄国庆",
                  birth=date(1964, 6, 1), gender="M")
    records = indexed(_world() + [resident, insured])
    # (the small world's model leaves the pair for review; a steward's link makes it sure)
    res = resolve(records, AS_OF, decisions=[Decision(insured.key, resident.key, "must_link")])
    pid = res.person_of[resident.idx]
    assert pid is not None and res.person_of[insured.idx] == pid
    g = golden([records[i] for i in res.persons[pid]])
    assert (g["id_card_no"], g["birth_date"]) == (number, date(1964, 6, 1))
    assert g["provenance"]["birth_date"] == ["medical_insurance", "insured-persons", "I1"]
    # alone, its gender field contradicting its number: the golden record publishes the
    # number, so gender and birth date are the number's, and it is an elder by them
    woman = ps("R2", id_number("370214", "19640601", 17), "逄国庆", date(1965, 6, 1), "F")
    records = indexed(_world() + [woman])
    res = resolve(records, AS_OF)
    pid = res.person_of[woman.idx]
    assert pid is not None
    g = golden([records[i] for i in res.persons[pid]])
    assert (g["id_card_no"], g["gender"], g["birth_date"]) == (woman.id18, "M", date(1964, 6, 1))


def test_a_flat_is_one_flat_whichever_way_its_building_and_room_are_written() -> None:
    from linking.resolve import _flat_part

    assert _flat_part("24号楼") == _flat_part("24") == _flat_part("２４栋") == _flat_part(" 24 幢") == "24"
    assert _flat_part("101室") == _flat_part("101") == "101"
    assert _flat_part("A座") == _flat_part("a") == "a"
    assert _flat_part("号楼") == "号楼" and _flat_part(None) is None
    assert _flat_part("2单元101") != _flat_part("101")
    base = _world()
    p5 = base[5 * 4]
    flat = _orders_at_one_flat(p5, "w", None, (p5.id18[:6], p5.id18[14:]))
    flat[0].building, flat[0].room = "3", "2单元101室"  # the other order says 3号楼, 2单元101
    res = resolve(indexed(base + flat), AS_OF)
    assert _person_of(res, flat[0].key) == _person_of(res, flat[1].key) == _person_of(res, p5.key)


def test_a_number_two_sources_contradict_is_not_published_nor_decides_who_is_an_elder() -> None:
    """A woman of 74 whose public-security number is mistyped; her family-doctor contract
    carries her husband's valid number (a man born 1969, not in the registry). Public
    security and the contract agree she is a woman born in 1950: the number is somebody
    else's — not published, and it does not make her a 55-year-old man."""
    own = id_number("370214", "19500420", 42)
    husband = id_number("370214", "19690301", 13)
    wife = ps("R-w", None, "栾秀英", date(1950, 4, 20), "F", id_clean=wrong_check(own))
    contract = rec("health", "family-doctor-contracts", "C-w", id18=husband, id_clean=husband, name="栾秀英",
                   birth=date(1950, 4, 20), gender="F")
    g = golden(indexed([wife, contract]))
    assert (g["id_card_no"], g["gender"], g["birth_date"]) == (None, "F", date(1950, 4, 20))
    records = indexed(_world() + [wife, contract])
    res = resolve(records, AS_OF, decisions=[Decision(contract.key, wife.key, "must_link")])
    pid = res.person_of[wife.idx]
    assert pid is not None and res.person_of[contract.idx] == pid  # kept: an elder by what two sources say
    # the same when the record carrying the number ranks first: public security itself
    # under his number, civil affairs knowing her as a woman born in 1950
    under = ps("R-h", husband, "栾秀英", date(1950, 4, 20), "F")
    ca_w = ca("E-w", None, "栾秀英", date(1950, 4, 20), "F", id_clean=None)
    g = golden(indexed([under, ca_w]))
    assert (g["id_card_no"], g["gender"], g["birth_date"]) == (None, "F", date(1950, 4, 20))
    res = resolve(indexed(_world() + [under, ca_w]), AS_OF, decisions=[Decision(ca_w.key, under.key, "must_link")])
    assert res.person_of[under.idx] is not None and res.person_of[ca_w.idx] == res.person_of[under.idx]
    # records that carry the number themselves are no witness against it: two of them
    # with the same wrong gender still publish the number, and its gender
    n = id_number("370214", "19500420", 43)  # a man's number
    both = golden(indexed([ps("R-n", n, "栾德", date(1950, 4, 20), "F"), ca("E-n", n, "栾德", date(1950, 4, 20), "F")]))
    assert (both["id_card_no"], both["gender"]) == (n, "M")
    # one record alone against its own number: the number stands, with its dates
    alone = golden(indexed([contract]))
    assert (alone["id_card_no"], alone["gender"], alone["birth_date"]) == (husband, "M", date(1969, 3, 1))


def test_a_number_carrier_link_keeps_other_review_items_and_never_crosses_a_stewards_ruling() -> None:
    # a probable duplicate registration founding its own person keeps its review items
    # while, elsewhere in the city, a care enrolment joins its person by number
    base = _world()
    p0 = base[0]
    twin = ps("R-twin", id_number("370299", p0.birth.strftime("%Y%m%d"), 777 if p0.gender == "M" else 778),
              p0.name, p0.birth, p0.gender)
    dup = ca("E-dup2", None, p0.name, p0.birth, p0.gender, id_clean=None)
    number = id_number("370214", "19500420", 31)
    elsewhere = [ps("R-broken", None, "栾大成", date(1950, 4, 20), "M", id_clean=wrong_check(number)),
                 rec("medical_insurance", "insured-persons", "I-right", id18=number, id_clean=number, name="栾大成",
                     birth=date(1950, 4, 20), gender="M"),
                 rec("medical_insurance", "ltc-enrolments", "L-right", id18=number, id_clean=number)]
    res = resolve(indexed(base + [twin, dup, *elsewhere]), AS_OF)
    assert res.stats["id_by_linked_record"] == 1
    assert len([it for it in res.review if it.record == dup.idx]) == 2
    # one number registered to two men, whom a steward kept apart: a death certificate
    # carrying only that number names neither of them
    n = id_number("370214", "19480312", 41)
    a = ps("R-A", n, "于振海", date(1948, 3, 12), "M")
    b = ca("E-B", n, "隋德明", date(1948, 3, 12), "M", phone="13912345678")
    insured = rec("medical_insurance", "insured-persons", "I-B", id18=n, id_clean=n, name="隋德明",
                  birth=date(1948, 3, 12), gender="M")
    cert = rec("health", "death-certificates", "D-?", id18=n, id_clean=n, death_date=date(2024, 9, 1))
    res = resolve(indexed(_world() + [a, b, insured, cert]), AS_OF, decisions=[Decision(b.key, a.key, "cannot_link")])
    assert res.person_of[insured.idx] == res.person_of[b.idx] != res.person_of[a.idx]
    assert res.person_of[cert.idx] is None and res.method[cert.idx] != "id"


def test_a_second_registration_with_its_birth_year_mistyped_and_no_number_finds_its_person() -> None:
    """Civil affairs registered him again without a number, born 1935 instead of 1936: no
    number, no name + year and no name + date key can find him; name + day of birth can."""
    from linking.resolve import _Persons

    number = id_number("370281", "19360130", 55)
    resident = ps("R1", number, "张德海", date(1936, 1, 30), "M", district="370281")
    again = ca("E2", None, "张德海", date(1935, 1, 30), "M", id_clean=None, district="370281", phone="13700001111")
    persons = _Persons()
    persons.add_anchor(persons.new(), indexed([resident])[0])
    assert persons.candidates(again) == {0}
    # (the small world's model is not sure enough to join them: the stewards see the pair)
    res = resolve(indexed(_world() + [resident, again]), AS_OF)
    assert res.method[again.idx] == "anchor"
    assert [it.person for it in res.review if it.record == again.idx] == [res.person_of[resident.idx]]


def test_ids_go_by_votes_most_first_then_the_smaller_id_then_the_cluster() -> None:
    pids = ["P000000002", "P000000001", "P000000003"]  # codes 0, 1, 2
    cluster = np.array([0, 0, 1, 1, 2, 2, 2])
    old = np.array([0, 1, 1, 0, 2, 2, 0])
    weight = np.array([10, 1, 10, 1, 1, 1, 1])
    # cluster 0: P2 10, P1 1; cluster 1: P1 10, P2 1; cluster 2: P3 2, P2 1
    assert _by_votes(cluster, old, weight, pids) == [(1, 1), (0, 0), (2, 2), (0, 1), (1, 0), (2, 0)]
    assert _by_votes(np.array([5, 4]), np.array([0, 1]), np.array([10, 10]), pids) == [(4, 1), (5, 0)]
    assert _by_votes(np.array([5, 4]), np.array([0, 0]), np.array([1, 1]), pids) == [(4, 0), (5, 0)]
    assert _by_votes(np.array([], dtype=int), np.array([], dtype=int), np.array([]), pids) == []


def test_an_old_id_goes_where_most_of_its_records_are_the_first_of_equal_ones() -> None:
    old = np.array([7, 7, 7, 3, 3, 9, 9])
    cluster = np.array([5, 2, 5, 8, 4, 6, 1])
    assert _most_held(old, cluster) == [(3, 4), (7, 5), (9, 1)]


def test_a_number_whose_check_character_is_wrong_or_odd_finds_the_person_its_first_17_digits_name() -> None:
    """Blocking looks a number up as given, as each of its one-error repairs, and — when
    its last character is no ASCII one (which the repairs skip) — as the valid number its
    first 17 digits begin: whatever the last character, the person is a candidate."""
    from linking.resolve import _Persons

    P = _Persons()  # noqa: N806
    pid = P.new()
    P.add_anchor(pid, ps("R1", ID_A, "张三", date(1950, 1, 1), "M"))
    other = P.new()
    P.add_anchor(other, ps("R2", ID_B, "李四", date(1948, 5, 12), "F"))
    for last in {"0", "5", "X", "Ｘ", "ⅹ", "?"} - {ID_A[17]}:
        order = rec("health", "family-doctor-contracts", f"C{last}", id_clean=ID_A[:17] + last)
        assert P.candidates(order) == {pid}, last
    assert P.candidates(rec("health", "family-doctor-contracts", "C", id_clean="1" + ID_A[1:17] + "Ｘ")) == set()


def test_digit_blocking_keys_are_integers_that_never_confuse_two_values() -> None:
    from linking.resolve import _key, _mask_key

    values = ["370202195003011234", "37020219500301123X", "070202195003011234", "70202195003011234",
              "37020219500301123", "13800000000", "013800000000", "0", "00", "X", "0X"]
    keys = {(kind, v): _key(kind, v, k) for k, kind in enumerate(("id", "id17", "ph")) for v in values}
    assert all(isinstance(x, int) for (_, v), x in keys.items() if v != "X")
    assert len(set(keys.values())) == len(keys)  # no two values or kinds share one
    assert _mask_key("370202", "123X") == _mask_key("370202", "123X") != _mask_key("370202", "1234")
    assert isinstance(_mask_key("370202", "123X"), int)
    assert _mask_key("370202", "1234") not in {_key(kind, "3702021234", k) for k, kind in enumerate(("id", "id17"))}
    # what is not digits (with at most a final X) stays the tuple it always was
    assert _mask_key("37020", "2123X") == ("mask", "37020", "2123X")
    assert _key("id", "37020219500301123Ｘ", 0) == ("id", "37020219500301123Ｘ")
    assert _key("ph", "０５３２８８８８", 3) == ("ph", "０５３２８８８８")
    assert _key("id", "X", 0) == ("id", "X")
    assert _key("ph", "1" * 40, 3) == ("ph", "1" * 40)  # too long for the length's place
