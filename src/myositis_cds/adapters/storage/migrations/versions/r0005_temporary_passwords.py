"""Temporary (generated) passwords: must be changed at the next sign-in, refused after a time.

Revision ID: 0005
Revises: 0007
Create Date: 2026-12-04

``users.password_temporary_until`` is set while an account's password is one the system generated
(the demo password printed by ``serve``, an administrator's reset): the user must choose their own
at the next sign-in, and the generated one is refused after this time. NULL: the user chose it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_temporary_until", sa.DateTime(timezone=True),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_temporary_until")
