"""CDS Hooks: the replay guard (accepted JWTs until they expire) and the ledger of issued cards.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

Shared by every server process; neither table holds record values or card text.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "cds_token_uses",
        sa.Column("iss", sa.String(200), primary_key=True),
        sa.Column("jti", sa.String(256), primary_key=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_cds_token_uses_expires_at", "cds_token_uses", ["expires_at"])
    op.create_table(
        "cds_cards",
        sa.Column("card_uuid", sa.String(64), primary_key=True),
        sa.Column("iss", sa.String(200), nullable=False),
        sa.Column("patient_key", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(80), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_cds_cards_issued_at", "cds_cards", ["issued_at"])


def downgrade() -> None:
    op.drop_table("cds_cards")
    op.drop_table("cds_token_uses")
