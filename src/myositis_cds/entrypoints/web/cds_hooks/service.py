"""The CDS Hooks 2.0 service of the web application: discovery and the ``patient-view`` service.

- ``GET /cds-services``: discovery (one service, its prefetch templates).
- ``POST /cds-services/anti-mi2-dm-plan``: a ``patient-view`` call → ``{"cards": [...]}``: the
  prefetch (or what is fetched from the EHR's FHIR server) is imported with the FHIR importer and
  the site configuration, validated item by item, assessed as of today, and turned into cards
  (:mod:`.cards`) with suggestions and override reasons (:mod:`.suggestions`).
- ``POST /cds-services/anti-mi2-dm-plan/feedback``: what the EHR's user did with a card
  (:mod:`.feedback`).

Every call needs the EHR's JWT (:mod:`.security`); these routes use no session cookie, so the
session's anti-forgery token does not apply to them (they are not forms; the JWT, bound to the
endpoint by ``aud`` and used once by ``jti``, is what a forged request could not carry). Each call
that receives patient data is audited (``cds.hook``, actor = the client's ``iss``) — 412 and 400
outcomes included — and nothing of the patient reaches the log. Errors are JSON
``{"detail": ...}``; a refused token is a bare 401.
"""

from __future__ import annotations

from typing import Any, Final, cast

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from myositis_cds import bootstrap
from myositis_cds.adapters.storage.cds_hooks import (
    IssuedCard,
    SqlCardLedger,
    SqlCdsFeedback,
    SqlReplayStore,
)
from myositis_cds.bootstrap import FhirCodes
from myositis_cds.entrypoints.web.cds_hooks import feedback
from myositis_cds.entrypoints.web.cds_hooks.cards import (
    CardContext,
    act_now_of,
    app_context,
    applies,
    build_cards,
    card_rules,
    invalid_record_card,
    suggestion_ids,
)
from myositis_cds.entrypoints.web.cds_hooks.config import CdsClient, CdsHooksConfig
from myositis_cds.entrypoints.web.cds_hooks.prefetch import (
    PREFETCH,
    FetchError,
    HookRequest,
    PrefetchError,
    PrefetchMissingError,
)
from myositis_cds.entrypoints.web.cds_hooks.prefetch import resolve_prefetch as resolve
from myositis_cds.entrypoints.web.cds_hooks.runtime import (
    DATABASE_ERRORS,
    SERVICE_ID,
    CdsRuntime,
    authenticate,
    json_error,
    parsed_call,
    runtime_of,
    unavailable,
)
from myositis_cds.entrypoints.web.cds_hooks.security import CdsCorsMiddleware
from myositis_cds.entrypoints.web.state import web_state
from myositis_cds.presentation import assessment_document
from myositis_cds.services import decision_support

__all__ = ["SERVICE", "SERVICE_ID", "install_cds_hooks", "router"]

SERVICE: Final[dict[str, Any]] = {
    "hook": "patient-view", "id": SERVICE_ID,
    "title": "Anti-Mi-2 dermatomyositis: alerts and management plan",
    "description": "For a patient with dermatomyositis and anti-Mi-2 antibodies: the knowledge "
                   "pack's alerts (each cited), checks that could not run for missing data, and "
                   "the plan (cancer screening, baseline work-up, severity, treatment options, "
                   "response), with draft orders for what is open. No cards for patients outside "
                   "that scope.",
    "prefetch": dict(PREFETCH),
}

router = APIRouter(include_in_schema=False)


def install_cds_hooks(app: FastAPI, config: CdsHooksConfig | None, *, engine: Engine,
                      site: bootstrap.SiteConfig | None = None) -> None:
    """Add the routes, their state and their CORS handling to ``app`` (call before the security
    middleware is added, so that it stays the outermost layer); ``engine``: the application
    database, which keeps the replay guard, the card ledger and the feedback; ``site``: the site
    configuration the EHR's data is read with (default: the built-in code tables)."""
    site = site or bootstrap.SiteConfig()
    app.state.cds = CdsRuntime(config=config, replay=SqlReplayStore(engine),
                               ledger=SqlCardLedger(engine), feedback=SqlCdsFeedback(engine),
                               codes=site.mapping.codes,
                               import_record=bootstrap.fhir_record_importer(site))
    app.include_router(router)
    app.include_router(feedback.router)
    app.add_middleware(CdsCorsMiddleware, origins=config.cors_origins if config else ())


@router.get("/cds-services")
def discovery(request: Request) -> Response:
    client = authenticate(request)
    if isinstance(client, Response):
        return client
    return JSONResponse({"services": [SERVICE]})


def _coding_of(codes: FhirCodes) -> Any:
    def coding(category: str, name: str) -> dict[str, Any] | None:
        try:
            return codes.coding_for(category, name).to_dict()  # type: ignore[arg-type]
        except ValueError:
            return None

    return coding


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
        link=link, new_uuid=runtime.new_uuid, patient_id=patient_key,
        coding_of=_coding_of(runtime.codes))


def _audit(request: Request, client: CdsClient, patient_key: str, detail: str) -> int | None:
    return decision_support.record_hook_call(web_state(request).uow, client=client.iss,
                                             patient_key=patient_key,
                                             detail=f"patient-view {SERVICE_ID}: {detail}")


def _answer(request: Request, client: CdsClient, hook: HookRequest) -> Response:
    runtime, state = runtime_of(request), web_state(request)
    config = cast(CdsHooksConfig, runtime.config)
    key = hook.context.patientId
    try:
        resolved = resolve(hook, client=client, transport=runtime.transport,
                           timeout=config.fetch_timeout, max_pages=config.fetch_max_pages,
                           page_size=config.fetch_page_size)
    except PrefetchMissingError as exc:
        _audit(request, client, key, f"412, prefetch missing: {', '.join(exc.keys)}")
        return json_error(412, f"{exc.reason}: {', '.join(exc.keys)}", missing_prefetch=exc.keys)
    except FetchError as exc:
        _audit(request, client, key, f"412, FHIR server fetch failed: {exc}")
        return json_error(412, f"the needed FHIR data could not be fetched: {exc}")
    except PrefetchError as exc:
        _audit(request, client, key, "400, prefetch contradicts its template")
        return json_error(400, str(exc))
    as_of = state.clinic.today()
    answer = decision_support.answer_patient_view(
        resolved.resources, import_record=runtime.import_record, as_of=as_of,
        params=state.clinic.params)
    validated = answer.imported
    sources = (f"prefetch {len(resolved.prefetched)}, fetched {len(resolved.fetched)}, not "
               f"provided {len(resolved.not_provided)}; {validated.unmapped.total} item(s) unmapped")
    if answer.assessment is None or validated.document is None:
        stored_id = _audit(request, client, key, f"record invalid ({len(validated.errors)} "
                                                 f"error(s)): 1 warning card; {sources}")
        context = _card_context(request, runtime, patient_key=key, stored_id=stored_id,
                                as_of=as_of.isoformat())
        cards = [invalid_record_card([e.to_dict() for e in validated.errors], context=context,
                                     not_provided=resolved.not_provided)]
        rules = ["INVALID-RECORD"]
    else:
        assessment = assessment_document(answer.assessment)
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
        act = act_now_of(answer.assessment, state.clinic.params.pack.citations)
        cards = build_cards(assessment, act=act, context=context,
                            unmapped=validated.unmapped.to_dict(),
                            not_provided=resolved.not_provided)
    runtime.ledger.add({card["uuid"]: IssuedCard(iss=client.iss, patient_key=key, rule=rule,
                                                 suggestions=suggestion_ids(card))
                        for card, rule in zip(cards, rules, strict=True)})
    return JSONResponse({"cards": cards})


def _guarded(request: Request, client: CdsClient, hook: HookRequest) -> Response:
    try:
        return _answer(request, client, hook)
    except DATABASE_ERRORS as exc:
        return unavailable("call not answered", exc)


@router.post("/cds-services/{service_id}")
async def call_service(request: Request, service_id: str) -> Response:
    call = await parsed_call(request, service_id, HookRequest)
    if isinstance(call, Response):
        return call
    client, hook = call
    if hook.hook != "patient-view":
        return json_error(400, f"$.hook: got {hook.hook[:40]!r}; expected 'patient-view'")
    return await run_in_threadpool(_guarded, request, client, hook)
