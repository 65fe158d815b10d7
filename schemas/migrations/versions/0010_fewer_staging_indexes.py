"""staging tables keep only the indexes their checks look up

The staging tables had the accepted tables' indexes (ID numbers, mostly), but nothing
looks staging rows up by them: the registry and the rules read the accepted tables, and
validation scans the pending batches. Each was one more insert at a random place of an
index per landed record, under SQLite's one write lock. Kept: the benefits' ID numbers
(the card-deposits check ``id_card_no.has_card`` looks holders up there) and the service
orders' company codes (the catalogue refresh lists the companies).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 17:20:00
"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

#: (table, column) of the staging indexes dropped
DROPPED = [
    ("stg_civil_affairs__benefits", "elder_record_id"),
    ("stg_civil_affairs__card_deposits", "id_card_no"),
    ("stg_civil_affairs__elders", "id_card_no"),
    ("stg_civil_affairs__meal_records", "id_card_no"),
    ("stg_civil_affairs__subsidy_payments", "id_card_no"),
    ("stg_civil_affairs__time_bank", "id_card_no"),
    ("stg_health__death_certificates", "id_card_no"),
    ("stg_health__family_doctor_contracts", "id_card_no"),
    ("stg_health__home_medical_services", "id_card_no"),
    ("stg_medical_insurance__insured_persons", "id_card_no"),
    ("stg_medical_insurance__ltc_enrolments", "id_card_no"),
    ("stg_medical_insurance__ltc_payments", "id_card_no"),
    ("stg_property_mgmt__service_orders", "resident_id_suffix"),
    ("stg_public_security__residents", "id_card_no"),
]


def upgrade() -> None:
    for table, column in DROPPED:
        op.drop_index(f"ix_{table}_{column}", table_name=table)


def downgrade() -> None:
    for table, column in DROPPED:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)
