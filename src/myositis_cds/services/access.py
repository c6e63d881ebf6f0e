"""Who may do what, and the audit events the use cases share.

Roles: ``clinician`` reads and writes identifiable patient records; ``admin`` may too and manages
users and the audit log; ``researcher`` sees de-identified cohort views only (not in this slice), so
every identifiable read or write is refused. A disabled account may do nothing. A refusal is itself
audited (``access.denied``) before the error is raised.
"""

from __future__ import annotations

import datetime as dt

from myositis_cds.errors import PermissionDeniedError
from myositis_cds.services.ports import Actor, AuditAction, AuditEvent, Role, UnitOfWorkFactory

__all__ = ["PATIENT_ROLES", "USER_ADMIN_ROLES", "event", "require", "utc_now"]

PATIENT_ROLES: frozenset[Role] = frozenset({"clinician", "admin"})
USER_ADMIN_ROLES: frozenset[Role] = frozenset({"admin"})


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def event(actor: Actor | str, action: AuditAction, *, patient_key: str | None = None,
          detail: str = "") -> AuditEvent:
    name = actor if isinstance(actor, str) else actor.username
    return AuditEvent(at=utc_now(), actor=name, action=action, patient_key=patient_key,
                      detail=detail)


def require(uow: UnitOfWorkFactory, actor: Actor, action: AuditAction, roles: frozenset[Role],
            *, what: str, patient_key: str | None = None) -> None:
    """Raise :class:`PermissionDeniedError` (after auditing the refusal) unless ``actor`` may act."""
    if actor.active and actor.role in roles:
        return
    if not actor.active:
        reason = f"the account {actor.username!r} is disabled"
        remedy = "ask an administrator to enable it"
    else:
        allowed = " or ".join(sorted(roles))
        reason = f"the role {actor.role!r} may not {what}"
        remedy = f"this needs the role {allowed}"
    with uow() as work:
        work.audit.append(event(actor, "access.denied", patient_key=patient_key,
                                detail=f"{action} refused for role {actor.role}"
                                + ("" if actor.active else " (account disabled)")))
        work.commit()
    msg = f"permission denied: {reason}; {remedy}"
    raise PermissionDeniedError(msg)
