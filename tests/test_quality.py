"""The quality gate end to end: ingest from the simulators, validate, and look at what
reached the registry's inputs (``acc_*``), what was quarantined and what was released."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from hub.db import get_engine
from landing.ingest import ingest_all
from quality.validate import validate
from schemas.quality import QualityGate, QualityQuarantine
from schemas.staging import accepted_table
from simulators.store import SimClock, SimStore
from tests.world import T0, id_number, meal, put

MEALS = ("civil_affairs", "meal-records")


def _broken(seq: int) -> str:
    good = id_number("370202", "19500101", seq)
    return good[:-1] + ("0" if good[-1] != "0" else "1")  # a wrong check digit


def _accepted(settings) -> dict[str, tuple]:  # noqa: ANN001
    t = accepted_table(*MEALS)
    with get_engine(settings).connect() as conn:
        return {r.record_id: tuple(r) for r in conn.execute(select(t))}


def _open_quarantine(settings) -> list[tuple[str, str, str | None]]:  # noqa: ANN001
    q = QualityQuarantine
    with get_engine(settings).connect() as conn:
        return sorted(conn.execute(select(q.record_id, q.check_name, q.value).where(q.released_at.is_(None))).all())


def _put_meal(store: SimStore, rid: str, t, **over) -> None:  # noqa: ANN001
    put(store, "civil_affairs", "meal-records", "record_id", meal(rid, t, **over), t)


def test_a_blocked_batch_leaves_the_registry_inputs_unchanged_until_it_is_corrected(serve, settings) -> None:  # noqa: ANN001
    store = SimStore()
    for i in range(50):
        _put_meal(store, f"M{i:03d}", T0 + timedelta(minutes=i), seq=i)
    day2 = T0 + timedelta(days=2)
    for i in range(50, 100):  # 10 of 50 with a wrong check digit: 20 % > the 10 % that blocks
        _put_meal(store, f"M{i:03d}", day2, seq=i, **({"id_card_no": _broken(i)} if i < 60 else {}))
    day4 = T0 + timedelta(days=4)
    for i in range(50, 60):  # the platform corrects them
        _put_meal(store, f"M{i:03d}", day4, seq=i)
    store.finalize()
    clock = SimClock(T0 + timedelta(days=1))
    serve(store, clock)

    ingest_all(["civil_affairs"], settings=settings)
    first = validate(settings)
    assert first.resource(*MEALS).status == "passed"
    before = _accepted(settings)
    assert len(before) == 50

    clock.advance(2 * 86400)
    ingest_all(["civil_affairs"], settings=settings)
    blocked = validate(settings)
    meals = blocked.resource(*MEALS)
    assert meals.status == "blocked" and "id_card_no.valid" in meals.reason
    assert (meals.rows_checked, meals.rows_promoted) == (50, 0)
    assert _accepted(settings) == before  # not one row of the blocked batch got through
    with get_engine(settings).connect() as conn:
        gate = conn.execute(select(QualityGate).where(QualityGate.resource == "meal-records")).one()
    assert gate.status == "blocked" and gate.last_good_run_id == first.run_id
    assert [r[0] for r in _open_quarantine(settings)] == [f"M{i:03d}" for i in range(50, 60)]
    assert all(v.startswith("370202") and "*" in v for _, _, v in _open_quarantine(settings))  # masked

    clock.advance(2 * 86400)
    ingest_all(["civil_affairs"], settings=settings)
    fixed = validate(settings).resource(*MEALS)
    # the blocked batch is judged again together with the corrections
    assert fixed.status == "passed"
    assert (fixed.rows_checked, fixed.rows_promoted, fixed.rows_quarantined, fixed.rows_released) == (50, 50, 0, 10)
    after = _accepted(settings)
    assert len(after) == 100 and {k: after[k] for k in before} == before
    assert _open_quarantine(settings) == []


def test_a_quarantined_row_is_held_back_and_released_when_its_corrected_version_lands(serve, settings) -> None:  # noqa: ANN001
    store = SimStore()
    for i in range(100):  # one broken ID in 100: under the block threshold, so only that row waits
        _put_meal(store, f"M{i:03d}", T0 + timedelta(minutes=i), seq=i, **({"id_card_no": _broken(7)} if i == 7 else {}))
    _put_meal(store, "M007", T0 + timedelta(days=2), seq=7)
    future = T0 + timedelta(days=2)
    _put_meal(store, "M200", T0 + timedelta(days=2, minutes=1), seq=200,
              meal_date=(future + timedelta(days=40)).date().isoformat())  # a meal in the future
    store.finalize()
    clock = SimClock(T0 + timedelta(days=1))
    serve(store, clock)

    ingest_all(["civil_affairs"], settings=settings)
    first = validate(settings).resource(*MEALS)
    assert (first.status, first.rows_checked, first.rows_promoted, first.rows_quarantined) == ("passed", 100, 99, 1)
    assert "M007" not in _accepted(settings)
    assert [(r, c) for r, c, _ in _open_quarantine(settings)] == [("M007", "id_card_no.valid")]

    again = validate(settings).resource(*MEALS)  # nothing new: nothing judged, nothing changes
    assert (again.rows_checked, again.rows_promoted, again.rows_released) == (0, 0, 0)

    clock.advance(2 * 86400)
    ingest_all(["civil_affairs"], settings=settings)
    second = validate(settings).resource(*MEALS)
    assert (second.rows_checked, second.rows_promoted, second.rows_quarantined, second.rows_released) == (2, 1, 1, 1)
    assert "M007" in _accepted(settings) and "M200" not in _accepted(settings)
    assert [(r, c) for r, c, _ in _open_quarantine(settings)] == [("M200", "meal_date.not_future")]
    with get_engine(settings).connect() as conn:
        released = conn.execute(select(QualityQuarantine.release_reason).where(
            QualityQuarantine.record_id == "M007")).scalar_one()
    assert released == "corrected"


def test_reports_are_written_without_personal_data(serve, settings) -> None:  # noqa: ANN001
    store = SimStore()
    for i in range(30):
        _put_meal(store, f"M{i:03d}", T0 + timedelta(minutes=i), seq=i, **({"id_card_no": _broken(3)} if i == 3 else {}))
    store.finalize()
    serve(store, SimClock(T0 + timedelta(days=1)))
    ingest_all(["civil_affairs"], settings=settings)
    result = validate(settings)
    summary = settings.home / "reports" / "quality" / "index.html"
    assert result.docs is not None and result.docs.exists()
    html = summary.read_text(encoding="utf-8")
    assert "meal-records" in html and "id_card_no.valid" in html
    for r in result.resources:  # every warning or block says why; empty feeds are not stale
        assert (r.status == "passed") == (r.reason is None), (r.platform, r.resource, r.status)
    assert result.resource("civil_affairs", "elders").status == "passed"
    pages = [summary, *result.docs.parent.rglob("*.html")]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for i in range(30):
            assert id_number("370202", "19500101", i) not in text, page
        assert _broken(3) not in text, page
    with get_engine(settings).connect() as conn:
        assert conn.execute(select(func.count()).select_from(QualityQuarantine)).scalar_one() == 1


def test_quarantine_matches_the_ground_truth_of_unusable_records(serve, sqlite_settings) -> None:  # noqa: ANN001
    """At the simulators' default noise, the rows held back are the rows the generator's
    truth calls unusable (broken sole identity, impossible or future key date)."""
    from quality.evaluate import Confusion, quarantine_confusion
    from simulators.faults import FaultConfig
    from simulators.generator import GeneratorConfig, generate

    config = GeneratorConfig(elders=600, seed=23)
    store, truth = generate(config)
    serve(store, SimClock(config.now), FaultConfig.none(export_ready_after_s=0.05))
    s = sqlite_settings.model_copy(update={"commit_records": 2000, "page_limit": 1000})
    assert ingest_all(settings=s).status == "success"
    validate(s, docs=False)
    total = Confusion()
    for c in quarantine_confusion(get_engine(s), truth).values():
        total.add(c)
    assert total.held_unusable + total.passed_unusable >= 50, total  # enough to mean something
    assert total.precision == 1.0 and total.recall >= 0.99, total


def test_hub_run_validates_after_ingest_and_says_where_the_reports_are(serve, sqlite_settings, monkeypatch) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from hub import settings as hub_settings
    from hub.cli import cli

    store = SimStore()
    for i in range(20):
        _put_meal(store, f"M{i:03d}", T0 + timedelta(minutes=i), seq=i)
    store.finalize()
    serve(store, SimClock(T0 + timedelta(days=1)))
    monkeypatch.chdir(sqlite_settings.home.parent)
    monkeypatch.setenv("HUB_HOME", sqlite_settings.home.name)  # relative, like the default ./.hub
    monkeypatch.setenv("HUB_DATABASE_URL", sqlite_settings.db_url)
    monkeypatch.setenv("HUB_REQUESTS_PER_SECOND", "0")
    monkeypatch.setenv("HUB_INGEST_WORKERS", "1")
    monkeypatch.setenv("HUB_QUALITY_DOCS_KEEP", "2")
    hub_settings.get_settings.cache_clear()
    runner = CliRunner()
    for _ in range(3):
        run = runner.invoke(cli, ["run", "--platform", "civil_affairs"])
        assert run.exit_code == 0, run.output
    assert "quality report for stewards" in run.output and "Data Docs" in run.output
    status = runner.invoke(cli, ["status"])
    assert "quality run 3" in status.output and "civil_affairs/meal-records" in status.output
    docs = sorted(p.name for p in (sqlite_settings.home / "reports" / "quality").glob("run-*"))
    assert docs == ["run-2", "run-3"]  # older Data Docs pruned, history kept
    assert runner.invoke(cli, ["validate"]).exit_code == 0
    hub_settings.get_settings.cache_clear()


def test_a_noisy_batch_warns_and_gets_through_and_only_a_broken_feed_blocks(serve, settings) -> None:  # noqa: ANN001
    """Broken ID numbers are noise every feed carries: 12 of 240 (5 %) warn — the rest is
    promoted, the twelve quarantined — while 30 of 240 (12.5 %) block the batch."""
    store = SimStore()
    for i in range(240):
        _put_meal(store, f"M{i:03d}", T0 + timedelta(minutes=i), seq=i,
                  **({"id_card_no": _broken(i)} if i % 20 == 0 else {}))
    day2 = T0 + timedelta(days=2)
    for i in range(240, 480):
        _put_meal(store, f"M{i:03d}", day2 + timedelta(minutes=i), seq=i,
                  **({"id_card_no": _broken(i)} if i % 8 == 0 else {}))
    store.finalize()
    clock = SimClock(T0 + timedelta(days=1))
    serve(store, clock)
    ingest_all(["civil_affairs"], settings=settings)
    noisy = validate(settings).resource(*MEALS)
    assert (noisy.status, noisy.rows_checked, noisy.rows_promoted, noisy.rows_quarantined) == ("warned", 240, 228, 12)
    assert "id_card_no.valid" in noisy.reason and "> 2.0%" in noisy.reason
    clock.advance(2 * 86400)
    ingest_all(["civil_affairs"], settings=settings)
    broken = validate(settings).resource(*MEALS)
    assert (broken.status, broken.rows_promoted) == ("blocked", 0)
    assert "(12.5% > 10.0%)" in broken.reason
