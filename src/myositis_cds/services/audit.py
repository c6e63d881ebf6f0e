"""The audit trail for admins: list events with filters, export them (JSON Lines or CSV), and
verify the hash chain that makes any rewrite or removal visible.

An export is itself audited (``audit.export``). CSV goes through the package's one CSV writer
(:mod:`myositis_cds.csv_writer`): a username or patient key holding a CR or a formula cannot split a
row or run in a spreadsheet.
"""

from __future__ import annotations

import json
from typing import Literal, TextIO

from myositis_cds.csv_writer import CsvWriter
from myositis_cds.services.access import USER_ADMIN_ROLES, event, require
from myositis_cds.services.ports import (
    Actor,
    AuditEvent,
    AuditQuery,
    AuditVerification,
    UnitOfWorkFactory,
)

__all__ = ["EXPORT_FORMATS", "event_to_dict", "export_audit_events", "list_audit_events",
           "verify_audit_log"]

EXPORT_FORMATS = ("jsonl", "csv")
_FIELDS = ("at", "actor", "action", "patient_key", "detail")


def event_to_dict(audit_event: AuditEvent) -> dict[str, str | None]:
    return {"at": audit_event.at.isoformat(), "actor": audit_event.actor,
            "action": audit_event.action, "patient_key": audit_event.patient_key,
            "detail": audit_event.detail}


def list_audit_events(uow: UnitOfWorkFactory, actor: Actor, query: AuditQuery | None = None,
                      *, limit: int = 100, offset: int = 0) -> list[AuditEvent]:
    """Newest first."""
    require(uow, actor, "audit.read", USER_ADMIN_ROLES, what="view the audit log")
    with uow() as work:
        return work.audit.list(query, limit=max(1, min(limit, 1000)), offset=max(0, offset))


def verify_audit_log(uow: UnitOfWorkFactory, actor: Actor, *,
                     expect: tuple[int, str] | None = None) -> AuditVerification:
    """Recompute the audit log's hash chain (and check an anchor noted earlier); the check is
    itself audited (after the head it reports, so that head stays a valid anchor)."""
    require(uow, actor, "audit.verify", USER_ADMIN_ROLES, what="verify the audit log")
    with uow() as work:
        result = work.audit.verify(expect=expect)
        outcome = ("intact" if result.intact
                   else f"{len(result.problems) + result.more_problems} problem(s)")
        work.audit.append(event(actor, "audit.verify",
                                detail=f"{outcome}: {result.events} events, head {result.last_id}"))
        work.commit()
    return result


def export_audit_events(uow: UnitOfWorkFactory, actor: Actor, out: TextIO,
                        query: AuditQuery | None = None,
                        *, fmt: Literal["jsonl", "csv"] = "jsonl") -> int:
    """Write every matching event, oldest first, to ``out``; returns how many were written."""
    require(uow, actor, "audit.export", USER_ADMIN_ROLES, what="export the audit log")
    count = 0
    with uow() as work:
        writer = CsvWriter(out) if fmt == "csv" else None
        if writer is not None:
            writer.writerow(_FIELDS)
        for audit_event in work.audit.export(query):
            row = event_to_dict(audit_event)
            if writer is not None:
                writer.writerow([row[name] for name in _FIELDS])
            else:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        work.audit.append(event(actor, "audit.export", detail=f"{count} events as {fmt}"))
        work.commit()
    return count
