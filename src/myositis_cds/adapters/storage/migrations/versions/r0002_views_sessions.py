"""Rendered patient views, web sessions and failed sign-ins (shared by every server process).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

``page_views`` keeps, per patient and knowledge fingerprint, the last rendered patient page (the
report, timeline and figure references for one version and one as-of date, and a small summary such
as the alert counts the patient list shows): derived data that is
recomputed whenever the version, the date or the fingerprint differ, and removed with the patient.
``web_sessions`` and ``sign_in_failures`` move the session store and the sign-in limiter out of a
single process's memory, so several server processes share them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "page_views",
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patients.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        _timestamp("created_at"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_digest", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        _timestamp("started_at"),
        _timestamp("last_seen_at"),
    )
    op.create_index("ix_web_sessions_started_at", "web_sessions", ["started_at"])
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key_digest", sa.String(64), nullable=False),
        _timestamp("at"),
    )
    op.create_index("ix_sign_in_failures_key_digest", "sign_in_failures", ["key_digest"])


def downgrade() -> None:
    op.drop_table("sign_in_failures")
    op.drop_table("web_sessions")
    op.drop_table("page_views")
