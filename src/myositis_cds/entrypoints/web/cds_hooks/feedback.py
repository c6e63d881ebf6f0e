"""``POST /cds-services/anti-mi2-dm-plan/feedback``: what the EHR's user did with each card.

Checked as CDS Hooks 2.0 specifies, all items at once, and nothing is recorded unless every item
is valid (400 naming each field and what was expected):

- ``outcome`` ``accepted`` needs ``acceptedSuggestions`` (one or more), each the ``id`` of a
  suggestion the card offered — so the card must be one this service issued to this client (the
  card ledger keeps them 30 days) — and no ``overrideReason``;
- ``outcome`` ``overridden`` has no ``acceptedSuggestions``; its ``overrideReason.reason``, when
  given, is one of the reasons the cards offer (:data:`~.suggestions.OVERRIDE_REASONS`); a user
  comment is accepted and never kept.

Each item is then audited (``cds.feedback``, actor = the client's ``iss``) and counted for the
analytics per rule (``myositis-cds cds-feedback``): rule, outcome, reason code, suggestions
accepted — no patient key, no comment.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from myositis_cds.adapters.storage.cds_hooks import FeedbackRow, IssuedCard
from myositis_cds.entrypoints.web.cds_hooks.config import CdsClient
from myositis_cds.entrypoints.web.cds_hooks.runtime import (
    DATABASE_ERRORS,
    SERVICE_ID,
    invalid,
    parsed_call,
    runtime_of,
    unavailable,
)
from myositis_cds.entrypoints.web.cds_hooks.suggestions import OVERRIDE_REASONS
from myositis_cds.entrypoints.web.state import web_state
from myositis_cds.services import decision_support

__all__ = ["FeedbackItem", "router"]

router = APIRouter(include_in_schema=False)
_CODE: Final = re.compile(r"[^A-Za-z0-9._:/|#-]")
_OFFERED: Final = frozenset((r["system"], r["code"]) for r in OVERRIDE_REASONS)


class _Coding(BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)
    code: str = Field(min_length=1, max_length=200)
    system: str | None = Field(default=None, max_length=500)


class _OverrideReason(BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)
    reason: _Coding | None = None
    userComment: str | None = Field(default=None, max_length=10_000)  # noqa: N815 - CDS Hooks name


class _Accepted(BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)
    id: str = Field(min_length=1, max_length=200)


class FeedbackItem(BaseModel):
    """One feedback item (CDS Hooks 2.0)."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)
    card: str = Field(min_length=1, max_length=200)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[_Accepted] | None = None  # noqa: N815
    overrideReason: _OverrideReason | None = None  # noqa: N815
    outcomeTimestamp: dt.datetime  # noqa: N815

    @model_validator(mode="after")
    def _outcome_fits(self) -> FeedbackItem:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            msg = "an accepted outcome names its acceptedSuggestions (one or more)"
            raise ValueError(msg)
        if self.outcome == "accepted" and self.overrideReason is not None:
            msg = "an accepted outcome has no overrideReason"
            raise ValueError(msg)
        if self.outcome == "overridden" and self.acceptedSuggestions:
            msg = "an overridden outcome has no acceptedSuggestions"
            raise ValueError(msg)
        return self


class _FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=100)


def _problems(index: int, item: FeedbackItem, issued: IssuedCard | None) -> list[dict[str, str]]:
    where = f"$.feedback[{index}]"
    problems = []
    if item.outcome == "accepted":
        offered = set(issued.suggestions) if issued is not None else set()
        if issued is None:
            problems.append({"path": f"{where}.card", "expected": "a card this service issued to "
                             "this client in the last 30 days (its suggestions are unknown)"})
        for number, accepted in enumerate(item.acceptedSuggestions or ()):
            if issued is not None and accepted.id not in offered:
                problems.append({"path": f"{where}.acceptedSuggestions[{number}].id",
                                 "expected": "the uuid of one of the card's suggestions"})
    reason = item.overrideReason.reason if item.overrideReason is not None else None
    if reason is not None and (reason.system, reason.code) not in _OFFERED:
        problems.append({"path": f"{where}.overrideReason.reason", "expected": "one of the card's "
                         "overrideReasons (system and code), e.g. "
                         f"{OVERRIDE_REASONS[0]['system']}|{OVERRIDE_REASONS[0]['code']}"})
    return problems


def _detail(item: FeedbackItem, issued: IssuedCard | None) -> str:
    rule = issued.rule if issued is not None else "unknown card"
    detail = f"{SERVICE_ID} card {rule}: {item.outcome}"
    if item.acceptedSuggestions:
        detail += f", {len(item.acceptedSuggestions)} suggestion(s) accepted"
    reason = item.overrideReason
    if reason is not None and reason.reason is not None:
        code = _CODE.sub("", f"{reason.reason.system or ''}|{reason.reason.code}")[:120]
        detail += f", reason {code}"
    if reason is not None and reason.userComment:
        detail += ", with a user comment (not kept)"
    return detail


def _record(request: Request, client: CdsClient, items: list[FeedbackItem]) -> Response:
    runtime = runtime_of(request)
    try:
        cards = []
        for item in items:
            issued = runtime.ledger.get(item.card)
            if issued is not None and issued.iss != client.iss:
                issued = None  # another client's card: nothing of it is revealed or linked
            cards.append(issued)
        problems = [p for index, (item, issued) in enumerate(zip(items, cards, strict=True))
                    for p in _problems(index, item, issued)]
        if problems:
            return invalid(problems)
        for item, issued in zip(items, cards, strict=True):
            decision_support.record_feedback(
                web_state(request).uow, client=client.iss,
                patient_key=issued.patient_key if issued else None, detail=_detail(item, issued))
        runtime.feedback.add([FeedbackRow(
            iss=client.iss, rule=issued.rule if issued else "(unknown card)", outcome=item.outcome,
            reason_code=(item.overrideReason.reason.code if item.overrideReason is not None
                         and item.overrideReason.reason is not None else None),
            accepted_suggestions=len(item.acceptedSuggestions or ()))
            for item, issued in zip(items, cards, strict=True)])
    except DATABASE_ERRORS as exc:
        return unavailable("feedback not recorded", exc)
    return Response(status_code=200)


@router.post("/cds-services/{service_id}/feedback")
async def feedback(request: Request, service_id: str) -> Response:
    call = await parsed_call(request, service_id, _FeedbackRequest)
    if isinstance(call, Response):
        return call
    client, body = call
    return await run_in_threadpool(_record, request, client, body.feedback)
