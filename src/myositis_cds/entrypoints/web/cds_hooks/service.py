"""The CDS Hooks 2.0 service of the web application: discovery, the ``patient-view`` service, feedback.

- ``GET /cds-services``: discovery (one service, its prefetch templates).
- ``POST /cds-services/anti-mi2-dm-plan``: a ``patient-view`` call → ``{"cards": [...]}``: the
  prefetch (or what is fetched from the EHR's FHIR server) is imported with the FHIR importer,
  validated item by item, assessed as of today, and turned into cards (:mod:`.cds_cards`).
- ``POST /cds-services/anti-mi2-dm-plan/feedback``: what the EHR's user did with a card (audited).

Every call needs the EHR's JWT (:mod:`.cds_security`); these routes use no session cookie, so the
session's anti-forgery token does not apply to them (they are not forms; the JWT, bound to the
endpoint by ``aud`` and used once by ``jti``, is what a forged request could not carry). Each call
that receives patient data is audited (``cds.hook``, actor = the client's ``iss``) — 412 and 400
outcomes included — and nothing of the patient reaches the log. Errors are JSON
``{"detail": ...}``; a refused token is a bare 401.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool

from myositis_cds.adapters.fhir.importing.importer import patient_document
from myositis_cds.adapters.fhir.importing.validation import validate_import
from myositis_cds.adapters.storage.cds_hooks import IssuedCard, SqlCardLedger, SqlReplayStore
from myositis_cds.engine import assess, to_dict
from myositis_cds.entrypoints.web.api import BodyRefusedError, json_body_bytes
from myositis_cds.entrypoints.web.cds_hooks.cards import (
    CardContext,
    app_context,
    applies,
    build_cards,
    card_rules,
    invalid_record_card,
)
from myositis_cds.entrypoints.web.cds_hooks.config import CdsClient, CdsHooksConfig
from myositis_cds.entrypoints.web.cds_hooks.prefetch import (
    PREFETCH,
    FetchError,
    FhirTransport,
    HookRequest,
    PrefetchError,
    PrefetchMissingError,
    urllib_transport,
)
from myositis_cds.entrypoints.web.cds_hooks.prefetch import resolve_prefetch as resolve
from myositis_cds.entrypoints.web.cds_hooks.security import (
    CdsCorsMiddleware,
    ReplayGuard,
    TokenRefusedError,
    logger,
    refusal,
    verify_token,
)
from myositis_cds.entrypoints.web.state import web_state
from myositis_cds.errors import DatabaseNotReadyError
from myositis_cds.services import decision_support

__all__ = ["SERVICE", "SERVICE_ID", "CdsRuntime", "install_cds_hooks", "router"]

SERVICE_ID: Final = "anti-mi2-dm-plan"
SERVICE: Final[dict[str, Any]] = {
    "hook": "patient-view", "id": SERVICE_ID,
    "title": "Anti-Mi-2 dermatomyositis: alerts and management plan",
    "description": "For a patient with dermatomyositis and anti-Mi-2 antibodies: the knowledge "
                   "pack's alerts (each cited), checks that could not run for missing data, and "
                   "the plan (cancer screening, baseline work-up, severity, treatment options, "
                   "response). No cards for patients outside that scope.",
    "prefetch": dict(PREFETCH),
}
_UNAVAILABLE: Final = ("the database is unavailable: the call could not be checked and audited, "
                       "so it was not answered; try again in a moment")
_CODE: Final = re.compile(r"[^A-Za-z0-9._:/|#-]")

router = APIRouter(include_in_schema=False)


@dataclass(slots=True, kw_only=True)
class CdsRuntime:
    """What the CDS Hooks routes hold (``app.state.cds``); ``transport`` is replaceable in tests."""

    config: CdsHooksConfig | None
    replay: ReplayGuard
    ledger: SqlCardLedger
    transport: FhirTransport = urllib_transport


def install_cds_hooks(app: FastAPI, config: CdsHooksConfig | None, *, engine: Engine) -> None:
    """Add the routes, their state and their CORS handling to ``app`` (call before the security
    middleware is added, so that it stays the outermost layer); ``engine``: the application
    database, which keeps the replay guard."""
    app.state.cds = CdsRuntime(config=config, replay=SqlReplayStore(engine),
                               ledger=SqlCardLedger(engine))
    app.include_router(router)
    app.add_middleware(CdsCorsMiddleware, origins=config.cors_origins if config else ())


def _runtime(request: Request) -> CdsRuntime:
    return cast(CdsRuntime, request.app.state.cds)


def _json(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def _authenticate(request: Request) -> CdsClient | Response:
    runtime = _runtime(request)
    path = str(request.scope.get("path", ""))
    root = str(request.scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root):]
    audience = runtime.config.endpoint_url(path) if runtime.config is not None else ""
    try:
        client = verify_token(request.headers.get("authorization"), config=runtime.config,
                              audience=audience, replay=runtime.replay)
    except TokenRefusedError as exc:
        logger.info("CDS Hooks call refused: %s", exc.reason)
        return refusal()
    except (DatabaseNotReadyError, OperationalError, InterfaceError) as exc:
        logger.warning("CDS Hooks call not answered, database unavailable: %s", type(exc).__name__)
        return JSONResponse({"detail": _UNAVAILABLE}, status_code=503, headers={"Retry-After": "30"})
    request.state.username = f"cds:{client.iss}"
    return client


async def _body(request: Request) -> object | Response:
    try:
        body = await json_body_bytes(request)
    except BodyRefusedError as exc:
        return _json(exc.status, exc.message)
    try:
        data: object = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _json(400, "$: the body is not a JSON document")
    return data


def _invalid(exc: ValidationError) -> JSONResponse:
    """400 naming each field and what was expected — never the value (it may hold a token)."""
    rows = [{"path": "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]),
             "expected": e["msg"]} for e in exc.errors(include_input=False)]
    return _json(400, f"{len(rows)} invalid field(s) in the request", errors=rows)


@router.get("/cds-services")
def discovery(request: Request) -> Response:
    client = _authenticate(request)
    if isinstance(client, Response):
        return client
    return JSONResponse({"services": [SERVICE]})


def _card_context(request: Request, runtime: CdsRuntime, *, patient_key: str, stored_id: int | None,
                  as_of: str) -> CardContext:
    config = cast(CdsHooksConfig, runtime.config)
    params = web_state(request).clinic.params
    link: dict[str, str] | None = None
    if config.smart_launch_url is not None:
        link = {"label": "Open in myositis-cds", "url": config.smart_launch_url, "type": "smart",
                "appContext": app_context(patient_key=patient_key, as_of=as_of)}
    elif stored_id is not None:
        link = {"label": "Open the patient page in myositis-cds",
                "url": f"{config.public_url}/patients/{stored_id}", "type": "absolute"}
    return CardContext(
        source_label=f"myositis-cds (knowledge pack {params.pack.id} {params.version})",
        source_url=config.card_source_url, citations=dict(params.pack.citations),
        rule_titles={rule_id: meta.title for rule_id, meta in params.pack.rules.items()},
        rule_citations={rule_id: meta.citations for rule_id, meta in params.pack.rules.items()},
        link=link, new_uuid=lambda: str(uuid.uuid4()))


def _audit(request: Request, client: CdsClient, patient_key: str, detail: str) -> int | None:
    return decision_support.record_hook_call(web_state(request).uow, client=client.iss,
                                             patient_key=patient_key,
                                             detail=f"patient-view {SERVICE_ID}: {detail}")


def _answer(request: Request, client: CdsClient, hook: HookRequest) -> Response:
    runtime, state = _runtime(request), web_state(request)
    config = cast(CdsHooksConfig, runtime.config)
    key = hook.context.patientId
    try:
        resolved = resolve(hook, client=client, transport=runtime.transport,
                           timeout=config.fetch_timeout, max_pages=config.fetch_max_pages)
    except PrefetchMissingError as exc:
        _audit(request, client, key, f"412, prefetch missing: {', '.join(exc.keys)}")
        return _json(412, f"{exc.reason}: {', '.join(exc.keys)}", missing_prefetch=exc.keys)
    except FetchError as exc:
        _audit(request, client, key, f"412, FHIR server fetch failed: {exc}")
        return _json(412, f"the needed FHIR data could not be fetched: {exc}")
    except PrefetchError as exc:
        _audit(request, client, key, "400, prefetch contradicts its template")
        return _json(400, str(exc))
    as_of = state.clinic.today()
    validated = validate_import(patient_document(resolved.resources,
                                                 mapping=state.settings.site.mapping),
                                today=as_of)
    sources = (f"prefetch {len(resolved.prefetched)}, fetched {len(resolved.fetched)}, not "
               f"provided {len(resolved.not_provided)}; {validated.unmapped.total} item(s) unmapped")
    if validated.record is None or validated.document is None:
        stored_id = _audit(request, client, key, f"record invalid ({len(validated.errors)} "
                                                 f"error(s)): 1 warning card; {sources}")
        context = _card_context(request, runtime, patient_key=key, stored_id=stored_id,
                                as_of=as_of.isoformat())
        cards = [invalid_record_card([e.to_dict() for e in validated.errors], context=context,
                                     not_provided=resolved.not_provided)]
        rules = ["INVALID-RECORD"]
    else:
        assessment = to_dict(assess(validated.record, as_of, state.clinic.params))
        if not applies(assessment, validated.document):
            _audit(request, client, key, f"not applicable (scope {assessment['scope']['status']}"
                                         f"): no cards; {sources}")
            return JSONResponse({"cards": []})
        rules = card_rules(assessment)
        severities = [str(a["severity"]) for a in assessment["alerts"]]
        counts = ", ".join(f"{severities.count(s)} {s}" for s in ("critical", "warning", "info"))
        stored_id = _audit(request, client, key, f"{len(rules)} card(s) (alerts: {counts}; "
                                                 f"{len(rules) - len(severities) - 1} not "
                                                 f"evaluable); {sources}")
        context = _card_context(request, runtime, patient_key=key, stored_id=stored_id,
                                as_of=as_of.isoformat())
        cards = build_cards(assessment, context=context, unmapped=validated.unmapped.to_dict(),
                            not_provided=resolved.not_provided)
    runtime.ledger.add({card["uuid"]: IssuedCard(iss=client.iss, patient_key=key, rule=rule)
                        for card, rule in zip(cards, rules, strict=True)})
    return JSONResponse({"cards": cards})


def _guarded(request: Request, client: CdsClient, hook: HookRequest) -> Response:
    try:
        return _answer(request, client, hook)
    except (DatabaseNotReadyError, OperationalError, InterfaceError) as exc:
        logger.warning("CDS Hooks call not answered, database unavailable: %s", type(exc).__name__)
        return JSONResponse({"detail": _UNAVAILABLE}, status_code=503, headers={"Retry-After": "30"})


@router.post("/cds-services/{service_id}")
async def call_service(request: Request, service_id: str) -> Response:
    client = await run_in_threadpool(_authenticate, request)
    if isinstance(client, Response):
        return client
    if service_id != SERVICE_ID:
        return _json(404, f"no CDS service with this id; the service is {SERVICE_ID!r} "
                          "(GET /cds-services)")
    body = await _body(request)
    if isinstance(body, Response):
        return body
    try:
        hook = HookRequest.model_validate(body)
    except ValidationError as exc:
        return _invalid(exc)
    if hook.hook != "patient-view":
        return _json(400, f"$.hook: got {hook.hook[:40]!r}; expected 'patient-view'")
    return await run_in_threadpool(_guarded, request, client, hook)


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


class _Feedback(BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)
    card: str = Field(min_length=1, max_length=200)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[_Accepted] | None = None  # noqa: N815
    overrideReason: _OverrideReason | None = None  # noqa: N815
    outcomeTimestamp: dt.datetime  # noqa: N815


class _FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)
    feedback: list[_Feedback] = Field(min_length=1, max_length=100)


def _feedback_detail(item: _Feedback, issued: IssuedCard | None) -> str:
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


def _record_feedback(request: Request, client: CdsClient, items: list[_Feedback]) -> Response:
    runtime = _runtime(request)
    try:
        for item in items:
            issued = runtime.ledger.get(item.card)
            if issued is not None and issued.iss != client.iss:
                issued = None  # another client's card: nothing of it is revealed or linked
            decision_support.record_feedback(
                web_state(request).uow, client=client.iss,
                patient_key=issued.patient_key if issued else None,
                detail=_feedback_detail(item, issued))
    except (DatabaseNotReadyError, OperationalError, InterfaceError) as exc:
        logger.warning("CDS Hooks feedback not recorded, database unavailable: %s",
                       type(exc).__name__)
        return JSONResponse({"detail": _UNAVAILABLE}, status_code=503, headers={"Retry-After": "30"})
    return Response(status_code=200)


@router.post("/cds-services/{service_id}/feedback")
async def feedback(request: Request, service_id: str) -> Response:
    client = await run_in_threadpool(_authenticate, request)
    if isinstance(client, Response):
        return client
    if service_id != SERVICE_ID:
        return _json(404, f"no CDS service with this id; the service is {SERVICE_ID!r}")
    body = await _body(request)
    if isinstance(body, Response):
        return body
    try:
        request_body = _FeedbackRequest.model_validate(body)
    except ValidationError as exc:
        return _invalid(exc)
    return await run_in_threadpool(_record_feedback, request, client, request_body.feedback)
