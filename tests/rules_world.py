"""A hand-made registry for the subsidy rules' tests: persons, their links, and the
accepted records the rules read, written straight into the hub's tables so that each test
says exactly what the rules see (no simulator, no linking in between)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Engine, insert

from schemas.landing import CatalogSnapshot, IngestBatch, IngestRun, LandingRecord
from schemas.registry import PersonLink, PersonVersion, RegistryRelease
from schemas.staging import accepted_table
from tests.world import id_number

AS_OF = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)


class RulesWorld:
    """Builder: ``person(...)`` and the transaction helpers queue rows; ``write()`` puts
    them in the database (and can be called again after more rows were queued)."""

    def __init__(self, engine: Engine, as_of: datetime = AS_OF) -> None:
        self.engine = engine
        self.as_of = as_of
        self.rows: dict[Any, list[dict]] = {}
        self._n = 0
        self._release_written = False

    def _add(self, table: Any, row: dict) -> None:
        self.rows.setdefault(table, []).append(row)

    def _acc(self, platform: str, resource: str, record_id: str, **values: Any) -> None:
        t = accepted_table(platform, resource)
        row = {c.name: None for c in t.columns}
        row.update(record_id=record_id, updated_at=datetime(2024, 1, 1, tzinfo=UTC), deleted=False,
                   version_hash="h" + record_id, batch_id=1, issues=None)
        row.update(values)
        self._add(t, row)

    def _rid(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n:05d}"

    # ------------------------------------------------------------------- persons

    def person(self, pid: str, *, born: str = "1950-06-15", seq: int | None = None, death: str | None = None,
               status: str | None = None, district: str = "370202", town: str = "八大湖街道",
               hukou: str = "urban", assistance: str | None = None, left_behind: bool = False,
               lost_only_child: bool = False, ability: int | None = 0, assessed: str = "2023-01-10",
               ability_history: list[tuple[int, str]] = (), elder_records: int = 1,
               id_card_no: str | None = None) -> str:
        """A person of the registry with a civil-affairs elder record (or several: one per
        district registration) and, when dead, a public-security record saying so.
        Returns the person's ID number."""
        idn = id_card_no or id_number(district, born.replace("-", ""), seq if seq is not None else int(pid[1:]) % 997)
        status = status or ("deceased" if death else "alive")
        erids = [f"EL-{pid}-{i}" for i in range(elder_records)]
        ps_rid = f"PS-{pid}"
        prov = {"assistance_type": ["civil_affairs", "elders", erids[0]],
                "hukou_type": ["civil_affairs", "elders", erids[0]],
                "status": ["public_security", "residents", ps_rid]}
        if death:
            prov["death_date"] = ["public_security", "residents", ps_rid]
        content = {"person_id": pid, "id_card_no": idn, "birth_date": born, "status": status, "death_date": death,
                   "district_code": district, "town": town, "hukou_type": hukou, "assistance_type": assistance,
                   "left_behind": left_behind, "lost_only_child": lost_only_child, "provenance": prov}
        self._add(PersonVersion.__table__, {
            "person_id": pid, "valid_from": 1, "valid_to": None, "merged_into": None, "id_card_no": idn,
            "name": "某", "gender": "M", "birth_date": date.fromisoformat(born), "district_code": district,
            "status": status, "death_date": date.fromisoformat(death) if death else None, "content": content,
            "content_hash": "x"})
        for rid in erids:
            self.link("civil_affairs", "elders", rid, pid)
            self._acc("civil_affairs", "elders", rid, id_card_no=idn, birth_date=date.fromisoformat(born),
                      district_code=district, town=town, hukou_type=hukou, assistance_type=assistance,
                      left_behind=left_behind, lost_only_child=lost_only_child, ability_level=ability,
                      ability_assessed_on=date.fromisoformat(assessed))
            for level, on in [*ability_history, (ability, assessed)]:
                if level is not None:
                    self.landed("civil_affairs", "elders", rid, {"record_id": rid, "ability_level": level,
                                                                 "ability_assessed_on": on})
        self.link("public_security", "residents", ps_rid, pid)
        self._acc("public_security", "residents", ps_rid, id_card_no=idn,
                  registration_status={"alive": "0", "deceased": "1", "moved_out": "2"}[status],
                  death_date=date.fromisoformat(death) if death else None)
        return idn

    def link(self, platform: str, resource: str, record_id: str, pid: str | None) -> None:
        self._add(PersonLink.__table__, {"platform": platform, "resource": resource, "record_id": record_id,
                                         "valid_from": 1, "valid_to": None, "person_id": pid,
                                         "confidence": 1.0, "method": "id" if pid else "not_elder"})

    def landed(self, platform: str, resource: str, record_id: str, payload: dict) -> None:
        self._add(LandingRecord.__table__, {
            "platform": platform, "resource": resource, "record_id": record_id,
            # each version landed after the one before (a record's history in order)
            "updated_at": datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=len(self.rows.get(LandingRecord.__table__, ()))),
            "deleted": False,
            "version_hash": f"v{self._rid('')}", "batch_id": 1, "payload": orjson.dumps(payload).decode()})

    # ---------------------------------------------------------------- transactions

    def meal(self, idn: str, day: str, *, meal_type: str = "lunch", subsidy: str = "3", org: str = "MEAL-1",
             delivered: bool = False, km: str | None = None, delivery: str = "0", district: str = "370202",
             deleted: bool = False, rid: str | None = None) -> str:
        rid = rid or self._rid("ML")
        self._acc("civil_affairs", "meal-records", rid, id_card_no=idn, org_code=org, district_code=district,
                  meal_date=date.fromisoformat(day), meal_type=meal_type, delivered=delivered,
                  delivery_distance_km=Decimal(km) if km else None, subsidy_amount=Decimal(subsidy),
                  delivery_subsidy_amount=Decimal(delivery), deleted=deleted)
        return rid

    def deposit(self, idn: str, month: str, *, card_type: int = 1, deposit: str = "150", subsidy: str = "50") -> str:
        rid = self._rid("CD")
        self._acc("civil_affairs", "card-deposits", rid, card_no="C1", id_card_no=idn, card_type=card_type,
                  month=date.fromisoformat(month + "-01"), deposit_amount=Decimal(deposit),
                  subsidy_amount=Decimal(subsidy))
        return rid

    def enrolment(self, idn: str, program: str, start: str, end: str | None = None, *, org: str = "ORG-1",
                  status: str = "active", elder_record_id: str | None = None, chosen: str | None = None,
                  district: str = "370202") -> str:
        rid = self._rid("BN")
        self._acc("civil_affairs", "benefits", rid, elder_record_id=elder_record_id, id_card_no=idn, program=program,
                  district_code=district, provider_org_code=org, start_date=date.fromisoformat(start),
                  end_date=date.fromisoformat(end) if end else None, status=status, chosen_policy=chosen)
        return rid

    def payment(self, idn: str, program: str, month: str, amount: str, *, org: str = "ORG-1") -> str:
        rid = self._rid("SP")
        self._acc("civil_affairs", "subsidy-payments", rid, id_card_no=idn, program=program,
                  period=date.fromisoformat(month + "-01"), amount=Decimal(amount), payee_org_code=org,
                  paid_on=date.fromisoformat(month + "-20"))
        return rid

    def coin(self, idn: str, monday: str, hours: str = "4") -> str:
        rid = self._rid("TB")
        d = date.fromisoformat(monday)
        iso = d.isocalendar()
        self._acc("civil_affairs", "time-bank", rid, id_card_no=idn, week=f"{iso.year}-W{iso.week:02d}",
                  week_start=d, hours_granted=Decimal(hours))
        return rid

    def ltc_payment(self, idn: str, month: str, amount: str) -> str:
        rid = self._rid("LP")
        self._acc("medical_insurance", "ltc-payments", rid, id_card_no=idn,
                  period=date.fromisoformat(month + "-01"), amount=Decimal(amount), institution_code="I1")
        return rid

    def ltc_assessment(self, idn: str, pid: str, level: int, on: str) -> str:
        rid = self._rid("LE")
        self.link("medical_insurance", "ltc-enrolments", rid, pid)
        self._acc("medical_insurance", "ltc-enrolments", rid, id_card_no=idn, disability_level=level,
                  assessed_on=date.fromisoformat(on))
        self.landed("medical_insurance", "ltc-enrolments", rid, {"recordId": rid, "disabilityLevel": level,
                                                                  "assessedOn": on.replace("-", "")})
        return rid

    def order(self, pid: str | None, day: str, *, company: str = "91370202MA3C000001", service: str = "housekeeping",
              price: str = "45", claimed: bool = True, subsidy: str = "10", method: str | None = None,
              birth_year: int | None = None, masked: tuple[str, str] | None = None) -> str:
        rid = self._rid("SO")
        self.link("property_mgmt", "service-orders", rid, pid)
        if method:
            self.rows[PersonLink.__table__][-1]["method"] = method
        self._acc("property_mgmt", "service-orders", rid, company_credit_code=company, service_type=service,
                  service_date=date.fromisoformat(day), price=Decimal(price), subsidy_claimed=claimed,
                  subsidy_amount=Decimal(subsidy), resident_birth_year=birth_year,
                  resident_id_prefix=masked[0] if masked else None, resident_id_suffix=masked[1] if masked else None)
        return rid

    def catalog(self, company: str, prices: dict[str, str], fetched: datetime = datetime(2024, 1, 5, tzinfo=UTC)) -> None:
        body = {"company_credit_code": company,
                "items": [{"service_type": k, "price": v, "description": "", "complaint_phone": ""}
                          for k, v in prices.items()]}
        self._add(CatalogSnapshot.__table__, {"company_credit_code": company, "fetched_at": fetched,
                                              "version_hash": self._rid("c"), "batch_id": 1,
                                              "payload": orjson.dumps(body).decode()})

    # ------------------------------------------------------------------------ write

    def write(self) -> None:
        with self.engine.begin() as conn:
            if not self._release_written:
                conn.execute(insert(RegistryRelease).values(release=1, link_run_id=1, published_at=self.as_of,
                                                            as_of=self.as_of.date(), persons=0, links=0))
                run = conn.execute(insert(IngestRun).values(started_at=self.as_of, status="success", trigger="test")
                                   .returning(IngestRun.id)).scalar_one()
                conn.execute(insert(IngestBatch).values(
                    run_id=run, platform="civil_affairs", resource="elders", started_at=self.as_of, status="success",
                    server_time=self.as_of, received=0, landed_new=0, landed_duplicate=0, rejected=0, tombstones=0,
                    pages=0))
                self._release_written = True
            for table, rows in self.rows.items():
                conn.execute(insert(table), rows)
        self.rows = {}
