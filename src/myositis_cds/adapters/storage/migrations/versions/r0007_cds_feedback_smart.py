"""CDS Hooks suggestions and feedback analytics; SMART on FHIR launches and sessions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

- ``cds_card_suggestions``: the uuid of each suggestion of each issued card (kept as long as the card
  in ``cds_cards``), so that feedback naming a suggestion the card did not offer is refused.
- ``cds_feedback``: one row per feedback item — client, rule, outcome, override reason code and the
  number of suggestions accepted — for the analytics per rule (``myositis-cds cds-feedback``). No
  patient key, record value, card text or user comment.
- ``smart_launches``: a launch in progress (the OAuth ``state``'s SHA-256, the PKCE verifier, the
  EHR and the launch parameter), for ten minutes at most, used once.
- ``smart_sessions``: a launched app session (its token's SHA-256), the EHR, the patient and user
  it was launched for, and the record read from the EHR's FHIR server for that session, deleted
  when the session expires (one hour at most). The EHR's access token is never kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "cds_card_suggestions",
        sa.Column("card_uuid", sa.String(64), primary_key=True),
        sa.Column("suggestion_uuid", sa.String(64), primary_key=True),
    )
    op.create_table(
        "cds_feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("iss", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(80), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(120), nullable=True),
        sa.Column("accepted_suggestions", sa.Integer(), nullable=False),
    )
    op.create_index("ix_cds_feedback_received_at", "cds_feedback", ["received_at"])
    op.create_table(
        "smart_launches",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_smart_launches_expires_at", "smart_launches", ["expires_at"])
    op.create_table(
        "smart_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("iss", sa.String(500), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("user_ref", sa.String(300), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_smart_sessions_expires_at", "smart_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("smart_sessions")
    op.drop_table("smart_launches")
    op.drop_table("cds_feedback")
    op.drop_table("cds_card_suggestions")
