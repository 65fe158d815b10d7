"""Typed, normalised staging tables: the current version of every record, per resource.

Each resource is declared once as a list of :class:`Field` (wire key → column, kind). The
kind names the normaliser (see ``landing.transform``) and the column type(s) it yields.
Every staging table also has:

* ``record_id`` (primary key), ``updated_at``, ``deleted`` — the winning version: the
  latest update time, on a tie the one delivered later; a tombstone keeps its row with
  ``deleted`` true so an older version delivered late cannot revive the record;
* ``version_hash`` — with the record id, the key of that version's ``landing_record``
  row (its original payload);
* ``issues`` — ``field:issue`` codes the normalisers raised, space-separated, or null.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Boolean, Column, Date, Index, Integer, Numeric, String, Table, Text

from schemas.base import UTCDateTime, metadata
from schemas.landing import BigId

__all__ = ["STAGING", "Field", "StagingSpec", "accepted_table", "catalog_items", "staging_table"]

KINDS = {
    "str", "text", "int", "decimal", "bool", "gender", "date", "month", "week",
    "yuan", "fen", "id_card", "name", "phone", "area", "masked_id",
}


@dataclass(frozen=True)
class Field:
    """One wire field and the staging column(s) it becomes."""

    wire: str
    kind: str
    column: str | None = None  # default: the wire name
    length: int = 64

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"field {self.wire!r}: unknown kind {self.kind!r}; expected one of {sorted(KINDS)}")

    @property
    def name(self) -> str:
        return self.column or self.wire

    def columns(self) -> list[Column]:
        n = self.name
        match self.kind:
            case "id_card":
                return [Column(n, String(18)), Column(f"{n}_cleaned", String(40))]
            case "masked_id":
                return [Column(f"{n}_prefix", String(6)), Column(f"{n}_suffix", String(4))]
            case "week":
                return [Column(n, String(10)), Column(f"{n}_start", Date)]
            case "int":
                return [Column(n, Integer)]
            case "decimal":
                return [Column(n, Numeric(12, 3))]
            case "yuan" | "fen":
                return [Column(n, Numeric(14, 2))]
            case "bool":
                return [Column(n, Boolean)]
            case "gender":
                return [Column(n, String(1))]
            case "date" | "month":
                return [Column(n, Date)]
            case "area":
                return [Column(n, String(6))]
            case "phone":
                return [Column(n, String(24))]
            case "text":
                return [Column(n, Text)]
            case _:
                return [Column(n, String(self.length))]


@dataclass(frozen=True)
class StagingSpec:
    platform: str
    resource: str
    fields: tuple[Field, ...]
    #: indexes of the accepted table (``acc_…``), which the registry and the rules query
    indexes: tuple[str, ...] = ("id_card_no",)
    #: indexes of the staging table itself: only what a quality check or the landing
    #: looks up there. Every index is one more keyed insert per landed record, under
    #: SQLite's one write lock; on random keys (ID numbers) that was an eighth of an
    #: ingest's time.
    staging_indexes: tuple[str, ...] = ()

    @property
    def table_name(self) -> str:
        return f"stg_{self.platform}__{self.resource.replace('-', '_')}"


def _spec(platform: str, resource: str, *fields: Field, indexes: tuple[str, ...] = ("id_card_no",),
          staging_indexes: tuple[str, ...] = ()) -> StagingSpec:
    return StagingSpec(platform, resource, tuple(fields), indexes, staging_indexes)


F = Field
STAGING: dict[tuple[str, str], StagingSpec] = {
    (s.platform, s.resource): s
    for s in [
        # civil affairs
        _spec("civil_affairs", "elders",
              F("id_card_no", "id_card"), F("name", "name"), F("gender", "gender"),
              F("birth_date", "date"), F("district_code", "area"), F("town", "str"),
              F("village", "str"), F("hukou_type", "str", length=16), F("phone", "phone"),
              F("address", "text"), F("assistance_type", "str", length=16),
              F("left_behind", "bool"), F("lives_alone", "bool"), F("lost_only_child", "bool"),
              F("ability_level", "int"), F("ability_assessed_on", "date")),
        _spec("civil_affairs", "benefits",
              F("elder_record_id", "str", length=128), F("id_card_no", "id_card"),
              F("program", "str", length=32), F("district_code", "area"),
              F("provider_org_code", "str"), F("start_date", "date"), F("end_date", "date"),
              F("status", "str", length=16), F("chosen_policy", "str", length=32),
              indexes=("id_card_no", "elder_record_id"),
              staging_indexes=("id_card_no",)),  # the card-deposits check "has_card" looks holders up
        _spec("civil_affairs", "card-deposits",
              F("card_no", "str"), F("id_card_no", "id_card"), F("card_type", "int"),
              F("month", "month"), F("deposit_amount", "yuan"), F("subsidy_amount", "yuan")),
        _spec("civil_affairs", "meal-records",
              F("id_card_no", "id_card"), F("org_code", "str"), F("district_code", "area"),
              F("meal_date", "date"), F("meal_type", "str", length=16), F("delivered", "bool"),
              F("delivery_distance_km", "decimal"), F("subsidy_amount", "yuan"),
              F("delivery_subsidy_amount", "yuan")),
        _spec("civil_affairs", "subsidy-payments",
              F("id_card_no", "id_card"), F("program", "str", length=32), F("period", "month"),
              F("amount", "yuan"), F("payee_org_code", "str"), F("paid_on", "date")),
        _spec("civil_affairs", "time-bank",
              F("id_card_no", "id_card"), F("week", "week"), F("hours_granted", "decimal")),
        # health
        _spec("health", "family-doctor-contracts",
              F("id_card_no", "id_card"), F("name", "name"), F("gender", "gender"),
              F("birth_date", "date"), F("team_code", "str"), F("signed_on", "date"),
              F("expires_on", "date"), F("status", "str", length=16)),
        _spec("health", "home-medical-services",
              F("id_card_no", "id_card"), F("service_type", "str", length=32),
              F("service_date", "date"), F("institution_code", "str")),
        _spec("health", "death-certificates",
              F("id_card_no", "id_card"), F("name", "name"), F("date_of_death", "date"),
              F("issued_on", "date")),
        # medical insurance (national data standard names on the wire)
        _spec("medical_insurance", "insured-persons",
              F("certno", "id_card", "id_card_no"), F("psnName", "name", "name"),
              F("gend", "gender", "gender"), F("brdy", "date", "birth_date"),
              F("insutype", "str", "insurance_type"), F("admdvs", "area", "district_code")),
        _spec("medical_insurance", "ltc-enrolments",
              F("certno", "id_card", "id_card_no"), F("disabilityLevel", "int", "disability_level"),
              F("assessedOn", "date", "assessed_on"), F("careMode", "str", "care_mode", 16),
              F("institutionCode", "str", "institution_code"), F("begnDate", "date", "start_date"),
              F("endDate", "date", "end_date")),
        _spec("medical_insurance", "ltc-payments",
              F("certno", "id_card", "id_card_no"), F("period", "month", "period"),
              F("amountFen", "fen", "amount"), F("institutionCode", "str", "institution_code")),
        # public security (pinyin initials on the wire)
        _spec("public_security", "residents",
              F("sfzh", "id_card", "id_card_no"), F("xm", "name", "name"), F("xb", "gender", "gender"),
              F("csrq", "date", "birth_date"), F("mz", "str", "ethnicity", 8),
              F("hjdz", "text", "address"), F("xzqh", "area", "district_code"),
              F("hkzt", "str", "registration_status", 4), F("swrq", "date", "death_date")),
        # property management (weak identity: masked ID, birth year)
        _spec("property_mgmt", "service-orders",
              F("company_credit_code", "str", length=32), F("company_name", "str", length=128),
              F("community_name", "str", length=128), F("building", "str", length=32),
              F("room", "str", length=32), F("resident_name", "name"),
              F("resident_phone", "phone"), F("resident_id_masked", "masked_id", "resident_id"),
              F("resident_birth_year", "int"), F("service_type", "str", length=32),
              F("service_date", "date"), F("price", "yuan"), F("subsidy_claimed", "bool"),
              F("subsidy_amount", "yuan"),
              indexes=("company_credit_code", "resident_id_suffix"),
              staging_indexes=("company_credit_code",)),  # the companies whose catalogues are fetched
    ]
}


def _build(spec: StagingSpec, prefix: str = "stg_") -> Table:
    cols: list[Column] = [
        Column("record_id", String(128), primary_key=True),
        Column("updated_at", UTCDateTime, nullable=False),
        Column("deleted", Boolean, nullable=False),
        Column("version_hash", String(32), nullable=False),
        Column("batch_id", BigId, nullable=False),
        Column("issues", Text),
    ]
    for f in spec.fields:
        cols.extend(f.columns())
    name = prefix + spec.table_name.removeprefix("stg_")
    table = Table(name, metadata, *cols)
    for col in spec.staging_indexes if prefix == "stg_" else spec.indexes:
        Index(f"ix_{name}_{col}", table.c[col])
    return table


_TABLES: dict[tuple[str, str], Table] = {key: _build(spec) for key, spec in STAGING.items()}
#: The registry's inputs: per record, the latest version that passed the quality gate
#: (``quality.validate`` promotes staging rows here; quarantined versions and batches
#: of a blocked resource never arrive). Same columns as staging.
_ACCEPTED: dict[tuple[str, str], Table] = {key: _build(spec, "acc_") for key, spec in STAGING.items()}


def staging_table(platform: str, resource: str) -> Table:
    try:
        return _TABLES[(platform, resource)]
    except KeyError:
        raise KeyError(f"no staging table for {platform}/{resource}") from None


def accepted_table(platform: str, resource: str) -> Table:
    try:
        return _ACCEPTED[(platform, resource)]
    except KeyError:
        raise KeyError(f"no accepted table for {platform}/{resource}") from None


catalog_items = Table(
    "stg_property_mgmt__service_catalog",
    metadata,
    Column("company_credit_code", String(32), primary_key=True),
    Column("service_type", String(32), primary_key=True),
    Column("description", Text),
    Column("price", Numeric(14, 2)),
    Column("complaint_phone", String(24)),
    Column("fetched_at", UTCDateTime, nullable=False),
    Column("snapshot_id", BigId, nullable=False),
    Column("issues", Text),
)
