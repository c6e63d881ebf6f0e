"""The patient list's summaries: one row per patient, sortable and filterable.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-04

``patient_summaries`` keeps what the clinician's patient list shows of each patient (age, sex,
phase, what is due next and when, alert counts by severity, overdue items, inadequate response),
made from the results of the patient's page and valid for one version and knowledge fingerprint
from ``as_of`` until ``recheck_on``: derived data, replaced in place and removed with the patient,
so that a page of a 10,000-patient list is one indexed query.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "patient_summaries",
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patients.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("recheck_on", sa.Date(), nullable=True),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("sex", sa.String(20), nullable=True),
        sa.Column("phase", sa.String(40), nullable=True),
        sa.Column("next_due", sa.String(80), nullable=True),
        sa.Column("next_due_date", sa.Date(), nullable=True),
        sa.Column("next_due_status", sa.String(20), nullable=True),
        sa.Column("critical", sa.Integer(), nullable=False),
        sa.Column("warning", sa.Integer(), nullable=False),
        sa.Column("info", sa.Integer(), nullable=False),
        sa.Column("overdue", sa.Integer(), nullable=False),
        sa.Column("inadequate", sa.Boolean(), nullable=False),
        sa.Column("invalid", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_patient_summaries_phase", "patient_summaries", ["phase"])
    op.create_index("ix_patient_summaries_next_due_date", "patient_summaries", ["next_due_date"])
    op.create_index("ix_patient_summaries_critical", "patient_summaries", ["critical"])
    op.create_index("ix_patient_summaries_overdue", "patient_summaries", ["overdue"])


def downgrade() -> None:
    op.drop_table("patient_summaries")
