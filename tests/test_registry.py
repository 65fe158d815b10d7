"""The registry on a database (SQLite and PostgreSQL): stable ids over reruns, merges and
splits with redirects, history by release, steward decisions, withdrawn records, exports
and grants — and linkage quality against the simulators' ground truth."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from hub.db import get_engine
from landing.bulk import raw_rows
from linking.records import load_records
from linking.run import LinkModeError, link
from registry.read import iter_persons, resolve_id
from schemas.landing import IngestBatch
from schemas.registry import LinkDecision, LinkReview, LinkRun, LinkState, PersonLink, PersonVersion
from schemas.staging import accepted_table
from tests.world import id_number

T0 = datetime(2024, 6, 1, tzinfo=UTC)
_n = 0


def put(engine, platform: str, resource: str, record_id: str, *, deleted: bool = False,  # noqa: ANN001
        updated_at: datetime = T0, **cols) -> None:
    """Write (or overwrite) a record of the registry's inputs, as the quality gate would
    (each version from a batch of its own: a new version always arrives in a new batch)."""
    global _n
    _n += 1
    table = accepted_table(platform, resource)
    row = {"record_id": record_id, "updated_at": updated_at, "deleted": deleted, "version_hash": f"h{_n}",
           "batch_id": _n, "issues": None, **cols}
    with engine.begin() as conn:
        conn.execute(table.delete().where(table.c.record_id == record_id))
        conn.execute(insert(table).values(**row))


def resident(engine, rid: str, id18: str, name: str, born: date, sex: str, **kw) -> None:  # noqa: ANN001
    put(engine, "public_security", "residents", rid, id_card_no=id18, id_card_no_cleaned=id18, name=name,
        birth_date=born, gender=sex, district_code="370202", registration_status="0", **kw)


def elder(engine, rid: str, id18: str | None, name: str, born: date, sex: str, cleaned: str | None = None,  # noqa: ANN001
          **kw) -> None:
    put(engine, "civil_affairs", "elders", rid, id_card_no=id18, id_card_no_cleaned=cleaned or id18, name=name,
        birth_date=born, gender=sex, district_code="370202", **kw)


NAMES = ["王秀英", "李桂兰", "张玉明", "刘建国", "陈志强", "杨丽华", "赵德胜", "黄淑珍", "周永福", "吴凤英"]


def population(engine, n: int = 10) -> list[tuple[str, str, date, str]]:  # noqa: ANN001
    out = []
    for k in range(n):
        born = date(1945 + k, 3, 1 + k)
        id18 = id_number("370202", born.strftime("%Y%m%d"), 101 + 2 * k)  # odd sequence: men
        resident(engine, f"R{k}", id18, NAMES[k], born, "M")
        elder(engine, f"E{k}", id18, NAMES[k], born, "M", phone=f"1380000{k:04d}")
        out.append((id18, NAMES[k], born, "M"))
    return out


def second_registration(engine, sex: str) -> None:  # noqa: ANN001
    """Civil affairs registers person 4 of ``population`` a second time, under a broken
    number and a name written otherwise: nothing ties it to the person, so it founds a
    person of its own (until the platform corrects it: ``correct_second_registration``)."""
    elder(engine, "E-second", None, "刘建囯", date(1949, 3, 5), sex, cleaned="37020219490305XXXX")


def correct_second_registration(engine, person: tuple) -> None:  # noqa: ANN001
    """The platform corrects it: now it is plainly the same person."""
    id18, name, born, sex = person
    elder(engine, "E-second", id18, name, born, sex, updated_at=T0 + timedelta(days=1))


def current(engine) -> dict:  # noqa: ANN001
    pl = PersonLink.__table__.c
    with engine.connect() as conn:
        return {(r[0], r[1], r[2]): r[3] for r in conn.execute(
            select(pl.platform, pl.resource, pl.record_id, pl.person_id).where(pl.valid_to.is_(None)))}


def persons(engine, **kw) -> dict:  # noqa: ANN001
    with engine.connect() as conn:
        return {p["person_id"]: p for p in iter_persons(conn, pii=True, **kw)}


@pytest.fixture
def engine(settings):  # noqa: ANN001, ANN201
    return get_engine(settings)


def test_a_rerun_keeps_every_id_and_writes_nothing(settings, engine) -> None:  # noqa: ANN001
    population(engine)
    first = link(settings)
    links = current(engine)
    assert first.published.persons == 10 and first.published.new_ids == 10
    again = link(settings)
    assert current(engine) == links
    assert (again.published.versions_written, again.published.links_written) == (0, 0)
    assert again.published.release == first.published.release + 1


def test_a_new_source_keeps_the_id(settings, engine) -> None:  # noqa: ANN001
    pop = population(engine)
    link(settings)
    before = current(engine)[("public_security", "residents", "R2")]
    id18, name, born, sex = pop[2]
    put(engine, "medical_insurance", "insured-persons", "I2", id_card_no=id18, id_card_no_cleaned=id18,
        name=name, birth_date=born, gender=sex)
    link(settings)
    now = current(engine)
    assert now[("public_security", "residents", "R2")] == before
    assert now[("medical_insurance", "insured-persons", "I2")] == before


@pytest.mark.parametrize("chunk", [None, 1], ids=["versions-at-once", "versions-one-by-one"])
def test_a_corrected_number_merges_two_persons_and_the_old_id_redirects(settings, engine, chunk,  # noqa: ANN001
                                                                         monkeypatch) -> None:  # noqa: ANN001
    if chunk:  # person versions written in chunks as they are built: the same release
        monkeypatch.setattr("linking.publish._VERSIONS_CHUNK", chunk)
    pop = population(engine)
    second_registration(engine, pop[4][3])
    link(settings)
    links = current(engine)
    survivor, extra = links[("public_security", "residents", "R4")], links[("civil_affairs", "elders", "E-second")]
    assert survivor != extra
    # the platform corrects the record: now it is plainly the same person (and, in the
    # same release, another person's golden record changes: both kinds of version at once)
    correct_second_registration(engine, pop[4])
    elder(engine, "E7", pop[7][0], pop[7][1], pop[7][2], pop[7][3], phone="13912345678")
    result = link(settings)
    assert result.published.merged_ids == 1 and result.published.versions_written >= 2
    assert current(engine)[("civil_affairs", "elders", "E-second")] == survivor
    with engine.connect() as conn:
        assert resolve_id(conn, extra) == survivor
        assert resolve_id(conn, survivor) == survivor
    assert extra not in persons(engine) and survivor in persons(engine)
    with engine.connect() as conn:  # one current version per id, the merged one a redirect
        pv = PersonVersion.__table__.c
        rows = conn.execute(select(pv.person_id, pv.merged_into).where(pv.valid_to.is_(None))).all()
    assert len(rows) == len({r[0] for r in rows}) == 11
    assert dict(rows)[extra] == survivor


def test_a_wrong_shared_number_split_later_gives_the_other_part_a_new_id(settings, engine) -> None:  # noqa: ANN001
    pop = population(engine)
    id18, name, born, sex = pop[6]
    elder(engine, "E-other", id18, name, born, sex)  # looks like the same person, twice
    link(settings)
    kept = current(engine)[("public_security", "residents", "R6")]
    assert current(engine)[("civil_affairs", "elders", "E-other")] == kept
    # it was somebody else: civil affairs corrects number, name and birth date
    other = id_number("370211", "19380808", 333)
    elder(engine, "E-other", other, "孙海涛", date(1938, 8, 8), "M", updated_at=T0 + timedelta(days=1))
    result = link(settings)
    links = current(engine)
    assert links[("public_security", "residents", "R6")] == kept
    assert links[("civil_affairs", "elders", "E-other")] not in (kept, None)
    assert result.published.new_ids == 1


def test_two_persons_of_equal_weight_found_to_be_one_keep_the_smaller_id(settings, engine) -> None:  # noqa: ANN001
    pop = population(engine, 3)
    other = id_number("370211", "19380808", 333)
    resident(engine, "R-dup", other, "孙海涛", date(1938, 8, 8), "M")
    elder(engine, "E-dup", other, "孙海涛", date(1938, 8, 8), "M")
    link(settings)
    before = current(engine)
    ids = before[("public_security", "residents", "R1")], before[("public_security", "residents", "R-dup")]
    assert ids[0] != ids[1]
    # both of the second person's records turn out to carry person 1's number: one person,
    # with the same votes (an anchor and a record) for either id
    resident(engine, "R-dup", *pop[1], updated_at=T0 + timedelta(days=1))
    elder(engine, "E-dup", *pop[1], updated_at=T0 + timedelta(days=1))
    result = link(settings)
    assert result.published.merged_ids == 1
    survivor, gone = min(ids), max(ids)
    assert {v for k, v in current(engine).items() if k[2] in ("R1", "E1", "R-dup", "E-dup")} == {survivor}
    with engine.connect() as conn:
        assert resolve_id(conn, gone) == survivor


def test_the_links_of_a_resource_whose_records_all_left_are_closed(settings, engine) -> None:  # noqa: ANN001
    """Publishing matches the current links to the run's records one platform/resource
    at a time: a resource with no record left still has its links closed."""
    population(engine, 3)
    link(settings)
    for k in range(3):
        put(engine, "civil_affairs", "elders", f"E{k}", deleted=True, updated_at=T0 + timedelta(days=1))
    result = link(settings)
    now = current(engine)
    assert sorted(k[2] for k in now) == ["R0", "R1", "R2"]
    assert result.published.kept_ids == 3 and result.published.links_written == 0


def test_history_answers_what_an_earlier_release_said(settings, engine) -> None:  # noqa: ANN001
    pop = population(engine)
    first = link(settings).published.release
    id18, _name, born, sex = pop[1]
    resident(engine, "R1", id18, "李桂蘭兰", born, sex, updated_at=T0 + timedelta(days=1))
    link(settings)
    pid = current(engine)[("public_security", "residents", "R1")]
    assert persons(engine)[pid]["name"] == "李桂蘭兰"
    assert persons(engine, release=first)[pid]["name"] == "李桂兰"


def test_a_withdrawn_record_is_unlinked_and_a_person_without_records_retired(settings, engine) -> None:  # noqa: ANN001
    population(engine, 3)
    link(settings)
    pid = current(engine)[("public_security", "residents", "R0")]
    put(engine, "civil_affairs", "elders", "E0", deleted=True, updated_at=T0 + timedelta(days=1))
    link(settings)
    assert ("civil_affairs", "elders", "E0") not in current(engine)
    put(engine, "public_security", "residents", "R0", deleted=True, updated_at=T0 + timedelta(days=1))
    result = link(settings)
    assert result.published.retired_ids == 1 and pid not in persons(engine)
    with engine.connect() as conn:
        assert resolve_id(conn, pid) is None


def test_steward_decisions_are_kept_and_respected(settings, engine) -> None:  # noqa: ANN001
    pop = population(engine)
    id18, name, born, sex = pop[3]
    put(engine, "health", "family-doctor-contracts", "C1", name=name, birth_date=born, gender=sex)
    link(settings)
    home = current(engine)[("public_security", "residents", "R3")]
    assert current(engine)[("health", "family-doctor-contracts", "C1")] == home
    with engine.begin() as conn:
        conn.execute(insert(LinkDecision).values(
            platform="health", resource="family-doctor-contracts", record_id="C1", other_platform="public_security",
            other_resource="residents", other_record_id="R3", decision="cannot_link", steward="wang",
            reason="different person, checked by phone", decided_at=datetime.now(UTC), active=True))
    for _ in range(2):  # and every later run
        link(settings)
        assert current(engine)[("health", "family-doctor-contracts", "C1")] is None


def test_uncertain_matches_wait_in_the_review_queue_with_an_explanation(settings, engine) -> None:  # noqa: ANN001
    population(engine)
    # two residents of the same name and birth date; a contract naming only those
    resident(engine, "R-twin", id_number("370285", "19450301", 999), NAMES[0], date(1945, 3, 1), "M")
    put(engine, "health", "family-doctor-contracts", "C-amb", name=NAMES[0], birth_date=date(1945, 3, 1), gender="M")
    link(settings)
    assert current(engine)[("health", "family-doctor-contracts", "C-amb")] is None
    with engine.connect() as conn:
        rows = conn.execute(select(LinkReview).where(LinkReview.status == "open")).all()
    assert {r.record_id for r in rows} == {"C-amb"}
    assert {r.other_record_id for r in rows} == {"R0", "R-twin"}  # both candidates, side by side
    assert {e["comparison"] for e in rows[0].explanation} >= {"name", "birth", "gender"}
    link(settings)  # the next run replaces the queue, it does not pile up
    with engine.connect() as conn:
        assert len(conn.execute(select(LinkReview).where(LinkReview.status == "open")).all()) == 2


# -------------------------------------------------------------------- CLI and grants

def test_export_masks_personal_data_unless_the_token_grants_it(settings, engine, monkeypatch) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from hub import settings as hub_settings
    from hub.cli import cli

    pop = population(engine, 3)
    link(settings)
    monkeypatch.setenv("HUB_HOME", str(settings.home))
    monkeypatch.setenv("HUB_DATABASE_URL", settings.db_url)
    hub_settings.get_settings.cache_clear()
    runner = CliRunner()
    out = runner.invoke(cli, ["export", "persons"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == 3 and all(r["links"] for r in rows)
    assert not any(p[0] in out.stdout for p in pop) and all("*" in r["id_card_no"] for r in rows)
    made = runner.invoke(cli, ["token", "create", "--name", "meal-app", "--scope", "persons:read",
                               "--scope", "pii:read"])
    token = made.stdout.strip().splitlines()[-1]
    full = runner.invoke(cli, ["export", "persons"], env={"HUB_TOKEN": token})
    assert {json.loads(line)["id_card_no"] for line in full.stdout.splitlines()} == {p[0] for p in pop}
    findings_only = runner.invoke(cli, ["token", "create", "--name", "dash", "--scope", "findings:read"])
    denied = runner.invoke(cli, ["export", "persons", "--token", findings_only.stdout.strip().splitlines()[-1]])
    assert "lacks the scope 'persons:read'" in str(denied.exception)
    from schemas.access import AccessLog

    with engine.connect() as conn:
        log = conn.execute(select(AccessLog.principal, AccessLog.unmasked, AccessLog.records)
                           .order_by(AccessLog.id)).all()
    assert [(r[1], r[2]) for r in log] == [(False, 3), (True, 3)] and log[1][0] == "meal-app"
    hub_settings.get_settings.cache_clear()


# ------------------------------------------------------------- against ground truth

def test_linkage_against_the_ground_truth_of_a_simulated_city(serve, sqlite_settings) -> None:  # noqa: ANN001
    """At the simulators' default noise: pairwise precision and recall of at least 0.995,
    and no record of a non-elder linked to anyone."""
    from landing.ingest import ingest_all
    from linking.evaluate import current_links, pairwise
    from quality.validate import validate
    from simulators.faults import FaultConfig
    from simulators.generator import GeneratorConfig, generate
    from simulators.store import SimClock

    config = GeneratorConfig(elders=800, seed=31)
    store, truth = generate(config)
    serve(store, SimClock(config.now), FaultConfig.none(export_ready_after_s=0.05))
    s = sqlite_settings.model_copy(update={"commit_records": 2000})
    assert ingest_all(settings=s).status == "success"
    validate(s, docs=False)
    result = link(s)
    engine = get_engine(s)
    elders = {p.person_key for p in truth.persons if p.is_elder}
    with engine.connect() as conn:
        predicted = current_links(conn)
    score = pairwise(predicted, {k: truth.record_person[k] for k in predicted}, elders)
    assert score.true_pairs > 5000, score
    assert score.precision >= 0.995 and score.recall >= 0.995, score
    assert score.non_elder_linked == 0, score
    assert result.published.persons == pytest.approx(len(elders), rel=0.01)
    # nothing is marked updated for nothing
    with engine.begin() as conn:
        conn.execute(update(LinkReview).values(status="obsolete"))
    assert link(s).published.versions_written == 0


# ------------------------------------------------------------------- publication


def test_readers_see_the_published_release_and_a_rollback_returns_an_earlier_one(settings, engine) -> None:  # noqa: ANN001
    from registry.publish import PublishError, publish, published_release, rollback

    population(engine, 3)
    link(settings)
    with engine.begin() as conn:
        publish(conn)
    resident(engine, "R-new", id_number("370202", "19500505", 301), NAMES[4], date(1950, 5, 5), "M")
    link(settings)  # release 2 is linked …
    assert len(persons(engine)) == 3  # … but readers still see release 1 until it is published
    with engine.begin() as conn:
        publish(conn)
    assert len(persons(engine)) == 4
    with engine.begin() as conn:
        back = rollback(conn, keep=5)
        assert back.kind == "rollback" and back.release == 1 and published_release(conn) == 1
    assert len(persons(engine)) == 3
    with engine.begin() as conn:
        rollback(conn, keep=5, to_release=2)
    assert len(persons(engine)) == 4
    with engine.begin() as conn, pytest.raises(PublishError, match="not among the last 1"):
        rollback(conn, keep=1, to_release=1)


def test_a_publication_says_which_sources_are_stale(settings, engine) -> None:  # noqa: ANN001
    from registry.publish import publish
    from schemas.landing import IngestBatch, IngestRun
    from schemas.quality import QualityGate

    population(engine, 2)
    link(settings)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        run = conn.execute(insert(IngestRun).values(started_at=now, status="partial", trigger="test")
                           .returning(IngestRun.id)).scalar_one()
        for platform, resource, status in (("civil_affairs", "elders", "success"),
                                           ("civil_affairs", "benefits", "success"),
                                           ("property_mgmt", "service-orders", "failed")):
            conn.execute(insert(IngestBatch).values(
                run_id=run, platform=platform, resource=resource, started_at=now, finished_at=now, status=status,
                error="platform down" if status == "failed" else None, received=0, landed_new=0,
                landed_duplicate=0, rejected=0, tombstones=0, pages=0))
        conn.execute(insert(QualityGate).values(platform="civil_affairs", resource="benefits", status="blocked",
                                                reason="id_valid failed", promoted_batch_id=0, updated_at=now))
        pub = publish(conn)
    src = pub.sources
    assert pub.stale
    assert src["civil_affairs/elders"]["status"] == "fresh" and src["civil_affairs/elders"]["last_good"]
    assert src["property_mgmt/service-orders"]["status"] == "stale"
    assert "platform down" in src["property_mgmt/service-orders"]["reason"]
    assert src["property_mgmt/service-orders"]["last_good"] is None
    assert "quality" in src["civil_affairs/benefits"]["reason"]
    assert src["health/death-certificates"]["reason"] == "never read"


def _published(engine) -> dict:  # noqa: ANN001
    """Everything a release says: current links (person, method, confidence), golden
    records, the open review queue and the linker's state."""
    pl, ls = PersonLink.__table__.c, LinkState.__table__.c
    with engine.connect() as conn:
        links = {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in conn.execute(
            select(pl.platform, pl.resource, pl.record_id, pl.person_id, pl.method, pl.confidence)
            .where(pl.valid_to.is_(None)))}
        review = sorted((r.record_id, r.person_id, r.probability) for r in conn.execute(
            select(LinkReview).where(LinkReview.status == "open")))
        state = {(r[0], r[1], r[2]): tuple(r[3:]) for r in conn.execute(select(
            ls.platform, ls.resource, ls.record_id, ls.batch_id, ls.candidates, ls.person_sig, ls.confidence,
            ls.method))}
    return {"links": links, "persons": persons(engine), "review": review, "state": state}


def _order(engine, rid: str, id18: str, name: str, born: date, phone: str) -> None:  # noqa: ANN001
    put(engine, "property_mgmt", "service-orders", rid, resident_name=name, resident_phone=phone,
        resident_id_prefix=id18[:6], resident_id_suffix=id18[14:], resident_birth_year=born.year,
        community_name="八大湖小区")


def test_an_incremental_run_publishes_what_a_rebuild_with_its_model_would(settings, engine) -> None:  # noqa: ANN001
    pop = population(engine, 10)
    for k, (id18, name, born, _sex) in enumerate(pop):
        _order(engine, f"O{k}", id18, name, born, f"1380000{k:04d}")
    put(engine, "health", "family-doctor-contracts", "C1", name=pop[1][1], birth_date=pop[1][2], gender=pop[1][3])
    first = link(settings)
    assert first.mode == "full"
    day = T0 + timedelta(days=1)
    # a day's changes: a renamed resident, a withdrawn elder record, a newcomer with the
    # name and birth date of person 0, an order's new version, a contract without a number
    id18, name, born, sex = pop[3]
    resident(engine, "R3", id18, "欧阳" + name[1:], born, sex, updated_at=day)
    put(engine, "civil_affairs", "elders", "E5", deleted=True, updated_at=day)
    _id0, name0, born0, sex0 = pop[0]
    twin = id_number("370285", born0.strftime("%Y%m%d"), 991)
    resident(engine, "R-new", twin, name0, born0, sex0, updated_at=day)
    elder(engine, "E-new", twin, name0, born0, sex0, updated_at=day)
    _order(engine, "O4", pop[4][0], pop[4][1], pop[4][2], "13999990000")
    put(engine, "health", "family-doctor-contracts", "C6", name=pop[6][1], birth_date=pop[6][2], gender=pop[6][3])
    second = link(settings)
    assert second.mode == "incremental"
    assert 0 < second.stats["reused"] < len(_published(engine)["state"])
    assert 0 < second.published.goldens_built < second.published.persons  # only the persons that changed
    after = _published(engine)
    rebuilt = link(settings, mode="rebuild")
    assert rebuilt.mode == "rebuild" and rebuilt.published.goldens_built == rebuilt.published.persons
    assert (rebuilt.published.versions_written, rebuilt.published.links_written) == (0, 0)
    assert _published(engine) == after
    # the changes were seen
    assert after["links"][("health", "family-doctor-contracts", "C6")][0] == \
        after["links"][("public_security", "residents", "R6")][0]
    assert after["persons"][after["links"][("public_security", "residents", "R3")][0]]["name"].startswith("欧阳")


def test_a_first_release_written_before_its_indexes_are_built_is_the_same_release(settings, engine,  # noqa: ANN001
                                                                                   monkeypatch) -> None:
    """A city's first release writes its links and persons' versions into the empty tables
    and builds their secondary indexes afterwards: the indexes are all there again, and a
    rebuild (the rows one by one, against what was written) finds nothing to change."""
    from sqlalchemy import inspect

    from linking import publish as pub

    pop = population(engine, 10)
    for k, (id18, name, born, _sex) in enumerate(pop):
        _order(engine, f"O{k}", id18, name, born, f"1380000{k:04d}")

    def indexes() -> dict:
        insp = inspect(engine)
        return {t: sorted((ix["name"], tuple(ix["column_names"])) for ix in insp.get_indexes(t))
                for t in ("person_link", "person_version")}

    before = indexes()
    assert before["person_link"] and before["person_version"]
    bulk_tables: list[str] = []
    built_after = pub.indexes_built_after
    monkeypatch.setattr(pub, "indexes_built_after",
                        lambda conn, table: bulk_tables.append(table.name) or built_after(conn, table))
    monkeypatch.setattr(pub, "_BULK_ROWS", 5)
    first = link(settings)
    assert bulk_tables == ["person_version", "person_link"]
    assert first.published.links_written == len(current(engine)) == 30
    assert indexes() == before
    written = _published(engine)
    rebuilt = link(settings, mode="rebuild")
    assert bulk_tables == ["person_version", "person_link"]  # the tables are not empty now
    assert (rebuilt.published.versions_written, rebuilt.published.links_written) == (0, 0)
    assert _published(engine) == written


def test_which_runs_are_full(settings, engine, monkeypatch) -> None:  # noqa: ANN001
    with pytest.raises(LinkModeError, match="no earlier run"):
        link(settings, mode="rebuild")
    population(engine, 10)

    def platforms_reach(day: int) -> None:  # the platforms' clock, as ingest records it
        t = T0 + timedelta(days=day)
        with engine.begin() as conn:
            conn.execute(insert(IngestBatch).values(run_id=1, platform="civil_affairs", resource="elders",
                                                    started_at=t, status="success", server_time=t))

    platforms_reach(0)
    assert link(settings).mode == "full"  # nothing to go on
    assert link(settings).mode == "incremental"
    platforms_reach(6)
    assert link(settings).mode == "incremental"
    platforms_reach(7)  # the model is HUB_LINK_FULL_AFTER_DAYS (7) old: estimated again
    assert settings.link_full_after_days == 7
    assert link(settings).mode == "full"
    assert link(settings).mode == "incremental"
    assert link(settings, mode="full").mode == "full"
    # other thresholds, or other linking code (a new release): the decisions cannot be reused
    assert link(settings.model_copy(update={"link_at": 0.995})).mode == "full"
    assert link(settings).mode == "full"  # (and back)
    assert link(settings).mode == "incremental"
    monkeypatch.setattr("linking.run.code_version", lambda: "another")
    assert link(settings).mode == "full"
    assert link(settings).mode == "incremental"
    # a model of other comparisons cannot be reused
    with engine.begin() as conn:
        last = conn.execute(select(LinkRun.id, LinkRun.model).order_by(LinkRun.id.desc()).limit(1)).one()
        model = dict(last.model)
        model["comparisons"] = {"name": model["comparisons"]["name"]}
        conn.execute(update(LinkRun).where(LinkRun.id == last.id).values(model=model))
    assert link(settings).mode == "full"


def test_the_linker_reads_every_value_as_its_column_types_it(settings, engine) -> None:  # noqa: ANN001
    """Records are read straight from the driver (SQLite returns dates, timestamps and
    booleans as text and integers): each still arrives as its column's Python type."""
    id18 = id_number("370202", "19450301", 101)
    elder(engine, "E1", id18, NAMES[0], date(1945, 3, 1), "M", left_behind=True, lives_alone=False,
          ability_level=2, ability_assessed_on=date(2024, 1, 5), updated_at=T0)
    t2 = T0 + timedelta(seconds=1, microseconds=250001)
    elder(engine, "E2", id18, NAMES[0], date(1945, 3, 1), "M", left_behind=False, updated_at=t2)
    with engine.connect() as conn:
        e1, e2 = load_records(conn)
    assert (e1.record_id, e2.record_id) == ("E1", "E2")
    assert e1.birth == date(1945, 3, 1) and type(e1.birth) is date and e1.birth_year == 1945
    # the UTC time as a timestamp, to the microsecond
    assert e1.updated_at == T0.timestamp() and type(e1.updated_at) is float and e2.updated_at == t2.timestamp()
    assert e1.extra["left_behind"] is True and e1.extra["lives_alone"] is False and e2.extra["left_behind"] is False
    assert e1.extra["ability_level"] == 2 and e1.extra["ability_assessed_on"] == date(2024, 1, 5)
    assert isinstance(e1.batch, int) and e2.batch > e1.batch
    assert e1.birth is e2.birth  # a recurring value is kept once
    t = accepted_table("civil_affairs", "elders")
    with engine.connect() as conn:  # parameters go to the driver as they are: strings and numbers
        assert list(raw_rows(conn, select(t.c.record_id).where(t.c.record_id == "E2", t.c.batch_id == e2.batch))) \
            == [("E2",)]
        if conn.dialect.name == "sqlite":  # a date would need SQLAlchemy's conversion to text first
            with pytest.raises(ValueError, match="needs converting"):
                list(raw_rows(conn, select(t.c.record_id).where(t.c.birth_date == date(1945, 3, 1))))


def test_a_number_somebody_holds_as_their_own_is_never_published_for_another(settings, engine) -> None:  # noqa: ANN001
    """A wife's civil-affairs record carries her husband's valid number, with her own
    name, birth date and gender: kept apart, she founds her own person — whose golden
    record must not publish his number (null where no trustworthy number is known)."""
    pop = population(engine)
    id18, _name, _born, _sex = pop[3]
    elder(engine, "E-wife", id18, "孙秀兰", date(1951, 2, 2), "F")
    with engine.begin() as conn:  # a steward keeps her apart (the model may too, in a bigger city)
        conn.execute(insert(LinkDecision).values(
            platform="civil_affairs", resource="elders", record_id="E-wife", other_platform="public_security",
            other_resource="residents", other_record_id="R3", decision="cannot_link", steward="wang",
            reason="his wife, registered under his number", decided_at=datetime.now(UTC), active=True))
    link(settings)
    links = current(engine)
    husband, wife = links[("public_security", "residents", "R3")], links[("civil_affairs", "elders", "E-wife")]
    assert wife not in (None, husband)
    everyone = persons(engine)
    assert everyone[husband]["id_card_no"] == id18
    assert everyone[wife]["id_card_no"] is None
    numbers = [p["id_card_no"] for p in everyone.values() if p["id_card_no"]]
    assert len(numbers) == len(set(numbers))


def test_a_steward_decides_a_review_item_side_by_side_and_the_next_run_applies_it(settings, engine,  # noqa: ANN001
                                                                                 monkeypatch) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from hub import settings as hub_settings
    from hub.cli import cli
    from registry.review import ReviewError, decide_review, open_reviews

    population(engine)
    twin = id_number("370285", "19450301", 999)
    resident(engine, "R-twin", twin, NAMES[0], date(1945, 3, 1), "M")
    put(engine, "health", "family-doctor-contracts", "C-amb", name=NAMES[0], birth_date=date(1945, 3, 1), gender="M")
    link(settings)
    with engine.connect() as conn:
        items = open_reviews(conn)
        full = open_reviews(conn, pii=True)
    assert {i["candidate"]["record_id"] for i in items} == {"R0", "R-twin"}
    shown = next(i for i in items if i["candidate"]["record_id"] == "R-twin")
    assert shown["record"]["birth_date"] == shown["candidate"]["birth_date"] == "1945-03-01"
    assert shown["candidate"]["id_card_no"] == twin[:6] + "*" * 12 and shown["candidate"]["name"] != NAMES[0]
    assert next(i for i in full if i["candidate"]["record_id"] == "R-twin")["candidate"]["id_card_no"] == twin
    assert any(e["comparison"] == "name" for e in shown["explanation"])
    monkeypatch.setenv("HUB_HOME", str(settings.home))
    monkeypatch.setenv("HUB_DATABASE_URL", settings.db_url)
    hub_settings.get_settings.cache_clear()
    try:
        listed = CliRunner().invoke(cli, ["review", "list"])
        assert listed.exit_code == 0 and "R-twin" in listed.stdout and twin not in listed.stdout
        decided = CliRunner().invoke(cli, ["review", "decide", str(shown["review_id"]), "must_link",
                                           "--steward", "wang", "--reason", "same flat, phoned"])
        assert decided.exit_code == 0, decided.output
    finally:
        hub_settings.get_settings.cache_clear()
    with engine.begin() as conn:
        assert open_reviews(conn) == []  # the record's other candidate left the queue too
        with pytest.raises(ReviewError, match="not open"):
            decide_review(conn, shown["review_id"], "cannot_link", "li")
    for _ in range(2):  # applied by the next run, and every later one
        link(settings)
        links = current(engine)
        assert links[("health", "family-doctor-contracts", "C-amb")] == links[("public_security", "residents", "R-twin")]


def test_an_incremental_run_withdraws_a_number_once_its_owner_appears(settings, engine) -> None:  # noqa: ANN001
    """Run 1: only the wife's record carries the number (it contradicts her gender), so
    her golden record shows it. Run 2, incremental: the husband's own record arrives —
    her unchanged person is built again and gives the number up, as a full run would."""
    population(engine)
    number = id_number("370211", "19460606", 135)  # a man's
    elder(engine, "E-wife", number, "孙秀兰", date(1946, 6, 6), "F")
    link(settings, mode="full")
    wife = current(engine)[("civil_affairs", "elders", "E-wife")]
    assert persons(engine)[wife]["id_card_no"] == number
    resident(engine, "R-husband", number, "孙海涛", date(1946, 6, 6), "M", updated_at=T0 + timedelta(days=1))
    result = link(settings)
    assert result.mode == "incremental"
    links, everyone = current(engine), persons(engine)
    husband = links[("public_security", "residents", "R-husband")]
    assert links[("civil_affairs", "elders", "E-wife")] == wife != husband
    assert everyone[husband]["id_card_no"] == number and everyone[wife]["id_card_no"] is None


def test_a_review_item_never_shows_what_would_give_a_number_back(settings, engine) -> None:  # noqa: ANN001
    from registry.review import _record

    put(engine, "property_mgmt", "service-orders", "O1", resident_name="王秀英", resident_phone="13800001111",
        resident_id_prefix="370202", resident_id_suffix="123X", resident_birth_year=1945,
        community_name="海韵小区", building="3", room="101")
    with engine.connect() as conn:
        masked = _record(conn, "property_mgmt", "service-orders", "O1", pii=False)
        full = _record(conn, "property_mgmt", "service-orders", "O1", pii=True)
    assert (masked["id_prefix"], masked["id_suffix"], masked["building"], masked["room"]) == ("370202", "****", "*", "***")
    assert masked["name"] != "王秀英" and masked["phone"] != "13800001111"
    assert (full["id_suffix"], full["name"], full["room"]) == ("123X", "王秀英", "101")


def test_a_person_whose_records_leave_and_come_back_gets_the_same_id(settings, engine) -> None:  # noqa: ANN001
    pop = population(engine)
    link(settings)
    before = current(engine)[("public_security", "residents", "R5")]
    id18, name, born, sex = pop[5]
    later = T0 + timedelta(days=1)
    resident(engine, "R5", id18, name, born, sex, deleted=True, updated_at=later)  # both withdrawn …
    elder(engine, "E5", id18, name, born, sex, deleted=True, updated_at=later)
    link(settings)
    assert before not in persons(engine)  # … so the person is retired
    resident(engine, "R5", id18, name, born, sex, updated_at=later + timedelta(days=1))  # … and sent again
    elder(engine, "E5", id18, name, born, sex, phone="13800000005", updated_at=later + timedelta(days=1))
    result = link(settings)
    assert current(engine)[("public_security", "residents", "R5")] == before and result.published.new_ids == 0
    assert before in persons(engine)


def test_a_merge_undone_by_a_steward_gives_the_split_off_person_its_old_id_back(settings, engine) -> None:  # noqa: ANN001
    pop = population(engine)
    second_registration(engine, pop[4][3])
    link(settings)
    links = current(engine)
    survivor, extra = links[("public_security", "residents", "R4")], links[("civil_affairs", "elders", "E-second")]
    correct_second_registration(engine, pop[4])
    link(settings)
    assert current(engine)[("civil_affairs", "elders", "E-second")] == survivor
    with engine.begin() as conn:  # it was not: a steward keeps it apart from both of that person's records
        for platform, resource, rid in (("public_security", "residents", "R4"), ("civil_affairs", "elders", "E4")):
            conn.execute(insert(LinkDecision).values(
                platform="civil_affairs", resource="elders", record_id="E-second", other_platform=platform,
                other_resource=resource, other_record_id=rid, decision="cannot_link", steward="wang",
                reason="a namesake, registered under a borrowed number", decided_at=datetime.now(UTC), active=True))
    link(settings)
    links = current(engine)
    assert links[("public_security", "residents", "R4")] == survivor
    assert links[("civil_affairs", "elders", "E-second")] == extra  # its own id again, not a new one
    with engine.connect() as conn:
        assert resolve_id(conn, extra) == extra
