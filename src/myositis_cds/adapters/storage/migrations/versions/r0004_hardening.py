"""A tamper-evident, append-only audit chain; sign-in attempts reserved per key; sessions by user.

Revision ID: 0004
Revises: 0005
Create Date: 2026-12-04

- ``audit_log`` is rebuilt with ``prev_hash`` and ``hash`` (SHA-256 of the event and the previous
  hash; the existing events are chained in id order) and a one-row ``audit_chain`` head. Its
  triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) as before, and now also an
  INSERT whose id is not larger than every stored id: on SQLite ``REPLACE``/``INSERT OR REPLACE``
  deleted the old row without firing a DELETE trigger, and an UPSERT updates it.
- ``sign_in_keys``: one row per limited key, the lock that makes the sign-in limiter atomic.
- ``web_sessions.username`` is indexed (sessions are limited per user).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from myositis_cds.adapters.storage.audit_chain import GENESIS, chain_hash

revision: str = "0004"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END""",
    """CREATE TRIGGER audit_log_new_ids_only BEFORE INSERT ON audit_log
       WHEN NEW.id IS NULL OR NEW.id <= coalesce((SELECT max(id) FROM audit_log), 0)
       BEGIN SELECT RAISE(ABORT,
         'audit_log is append-only: an INSERT of an id that is not new refused'); END""",
    """CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
       BEGIN SELECT RAISE(ABORT, 'audit_chain is the head of the audit log: DELETE refused'); END""",
    """CREATE TRIGGER audit_chain_forward_only BEFORE UPDATE ON audit_chain
       WHEN NEW.id <> OLD.id OR NEW.last_id < OLD.last_id
       BEGIN SELECT RAISE(ABORT, 'audit_chain only moves forward: UPDATE refused'); END""",
)
_POSTGRES_TRIGGERS = (
    """CREATE FUNCTION audit_log_new_ids_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.id IS NULL OR NEW.id <= (SELECT coalesce(max(id), 0) FROM audit_log) THEN
           RAISE EXCEPTION 'audit_log is append-only: an INSERT of an id that is not new refused';
         END IF;
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
       FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
       FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""",
    """CREATE TRIGGER audit_log_new_ids_only BEFORE INSERT ON audit_log
       FOR EACH ROW EXECUTE FUNCTION audit_log_new_ids_only()""",
    """CREATE TRIGGER audit_chain_no_delete BEFORE DELETE OR TRUNCATE ON audit_chain
       FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""",
    """CREATE FUNCTION audit_chain_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.id <> OLD.id OR NEW.last_id < OLD.last_id THEN
           RAISE EXCEPTION 'audit_chain only moves forward: UPDATE refused';
         END IF;
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER audit_chain_forward_only BEFORE UPDATE ON audit_chain
       FOR EACH ROW EXECUTE FUNCTION audit_chain_forward_only()""",
)
_OLD_SQLITE_TRIGGERS = _SQLITE_TRIGGERS[:2]
_OLD_POSTGRES_TRIGGERS = _POSTGRES_TRIGGERS[1:3]
_COLUMNS = ("id", "at", "actor", "action", "patient_key", "detail")
_BATCH = 1000


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _audit_table(name: str, *, chained: bool) -> None:
    columns: list[sa.Column[object]] = [
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=not chained),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("patient_key", sa.String(200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
    ]
    if chained:
        columns += [sa.Column("prev_hash", sa.String(64), nullable=False),
                    sa.Column("hash", sa.String(64), nullable=False)]
    op.create_table(name, *columns)


def _indexes() -> None:
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_patient_key", "audit_log", ["patient_key"])


def _drop_old_audit_log() -> None:
    """The triggers go with the table; PostgreSQL keeps the function (it is used again)."""
    if _postgres():
        op.execute("DROP TABLE audit_log")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        op.execute("DROP TABLE audit_log")


def _copy_chained() -> tuple[int, str]:
    """Every event into ``audit_log_new`` in id order, each chained to the one before."""
    bind = op.get_bind()
    when = sa.DateTime(timezone=True)
    old = sa.table("audit_log", *(sa.column(c, when if c == "at" else None) for c in _COLUMNS))
    new = sa.table("audit_log_new", *(sa.column(c, when if c == "at" else None)
                                      for c in (*_COLUMNS, "prev_hash", "hash")))
    last_id, previous = 0, GENESIS
    while True:
        rows = bind.execute(sa.select(old).where(old.c.id > last_id).order_by(old.c.id)
                            .limit(_BATCH)).mappings().all()
        if not rows:
            return last_id, previous
        chained = []
        for row in rows:
            digest = chain_hash(previous, event_id=row["id"], at=row["at"], actor=row["actor"],
                                action=row["action"], patient_key=row["patient_key"],
                                detail=row["detail"])
            chained.append({**row, "prev_hash": previous, "hash": digest})
            last_id, previous = row["id"], digest
        bind.execute(new.insert(), chained)


def upgrade() -> None:
    _audit_table("audit_log_new", chained=True)
    last_id, last_hash = _copy_chained()
    _drop_old_audit_log()
    op.rename_table("audit_log_new", "audit_log")
    _indexes()
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.execute(sa.text("INSERT INTO audit_chain (id, last_id, last_hash) VALUES (1, :i, :h)")
               .bindparams(i=last_id, h=last_hash))
    for statement in _POSTGRES_TRIGGERS if _postgres() else _SQLITE_TRIGGERS:
        op.execute(statement)
    op.create_table(
        "sign_in_keys",
        sa.Column("key_digest", sa.String(64), primary_key=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sign_in_keys_last_attempt_at", "sign_in_keys", ["last_attempt_at"])
    op.create_index("ix_web_sessions_username", "web_sessions", ["username"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_username", "web_sessions")
    op.drop_table("sign_in_keys")
    _audit_table("audit_log_old", chained=False)
    columns = ", ".join(_COLUMNS)
    op.execute(f"INSERT INTO audit_log_old ({columns}) SELECT {columns} FROM audit_log")  # noqa: S608
    if _postgres():
        op.execute("DROP TABLE audit_chain")
        op.execute("DROP TABLE audit_log")
        op.execute("DROP FUNCTION audit_log_new_ids_only()")
        op.execute("DROP FUNCTION audit_chain_forward_only()")
        op.execute("SELECT setval(pg_get_serial_sequence('audit_log_old', 'id'), "
                   "coalesce((SELECT max(id) FROM audit_log_old), 0) + 1, false)")
    else:
        for trigger in ("audit_log_no_update", "audit_log_no_delete", "audit_log_new_ids_only",
                        "audit_chain_no_delete", "audit_chain_forward_only"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE audit_chain")
        op.execute("DROP TABLE audit_log")
    op.rename_table("audit_log_old", "audit_log")
    _indexes()
    for statement in _OLD_POSTGRES_TRIGGERS if _postgres() else _OLD_SQLITE_TRIGGERS:
        op.execute(statement)
