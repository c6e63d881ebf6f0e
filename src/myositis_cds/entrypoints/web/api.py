"""The JSON API under ``/api/v1``, mirroring the command line; documented by FastAPI's OpenAPI.

Every route but ``POST /api/v1/session`` needs a signed-in session (cookie) and, when it is not a
GET, the session's ``X-CSRF-Token`` header. ``assess`` and ``timeline`` work on a posted
``patient-record@1`` and store nothing. Stored patients carry a version: ``ETag: "<version>"`` on
reads, and ``PUT``/``DELETE`` need ``If-Match: "<version>"`` (428 without it; 409 naming both
versions when someone else changed the patient since). Reads and writes of stored patients are
audited by the use cases; researchers are refused them (403, audited).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, Field

from myositis_cds import bootstrap
from myositis_cds.entrypoints.dates import iso_date
from myositis_cds.entrypoints.web.auth import ApiPrincipal, end_session, set_session_cookie, sign_in
from myositis_cds.entrypoints.web.state import web_state
from myositis_cds.errors import FieldError, RecordValidationError
from myositis_cds.services import patients
from myositis_cds.services.ports import StoredPatient

__all__ = [
    "MAX_ID",
    "USERNAME_PATTERN",
    "AsOf",
    "BodyRefusedError",
    "IsoDate",
    "json_body_bytes",
    "read_json_body",
    "router",
]

MAX_ID: Final = 2_147_483_647
"""Largest id or version (a 32-bit database integer)."""
USERNAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"

router = APIRouter(prefix="/api/v1")

_RECORD_BODY: Final = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/PatientRecord"}}}}}
_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    400: {"description": "The body is not JSON"},
    401: {"description": "Not signed in"},
    403: {"description": "Missing or invalid X-CSRF-Token, or the role may not do this"},
    422: {"description": "Invalid input: `errors` lists each path, value and what was expected"},
    503: {"description": "The database is unavailable"},
}


def _ref(name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


class BodyRefusedError(Exception):
    """A request body refused before decoding: ``status`` 415 (not JSON) or 413 (too large)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def json_body_bytes(request: Request) -> bytes:
    """The raw body of a JSON request, at most ``max_upload_bytes`` (read no further);
    :class:`BodyRefusedError` otherwise. Shared by the API and the CDS Hooks service."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise BodyRefusedError(415, f"Content-Type: got {media[:60] or 'nothing'!r}; expected "
                                    "'application/json'")
    limit = web_state(request).settings.max_upload_bytes
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyRefusedError(413, f"the body is larger than {limit} bytes")
    return body


async def read_json_body(request: Request) -> dict[str, Any]:
    """The JSON object of the body (a record), through the JSON edge: at most
    ``max_upload_bytes``, nesting bounded, strict UTF-8; 415/413/400 with a clear message, and a
    body that is not an object (a string holding JSON included) is refused (422)."""
    try:
        body = await json_body_bytes(request)
    except BodyRefusedError as exc:
        raise HTTPException(exc.status, exc.message) from None
    try:
        document = bootstrap.decode_json(body, max_bytes=len(body))
    except bootstrap.JsonRefusedError as exc:
        raise HTTPException(400, f"$: got {exc.msg}; expected {exc.expected}") from None
    if not isinstance(document, dict):  # a string holding JSON is not a record
        raise RecordValidationError([FieldError(path="$", value=bootstrap.json_kind(document),
                                                expected="a JSON object (patient-record@1)")],
                                    source="request body")
    return document


JsonBody = Annotated[dict[str, Any], Depends(read_json_body)]


def _iso_date_only(value: object) -> object:
    """A date parameter is ``YYYY-MM-DD`` and nothing else (pydantic alone reads ``0`` as a Unix
    timestamp, 1970-01-01)."""
    if isinstance(value, str):
        day = iso_date(value)
        if day is None:
            msg = "expected an ISO 8601 date YYYY-MM-DD"
            raise ValueError(msg)
        return day
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date_only)]
"""A query parameter's date: ISO 8601 only (its range is checked where it is used)."""
AsOf = Annotated[IsoDate | None, Query(description="Assessment date YYYY-MM-DD from 1900-01-01 "
                                       "to today (default: today); nothing dated later is used")]
PatientId = Annotated[int, Path(ge=1, le=MAX_ID, description="The stored patient's id")]


class Credentials(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=1, max_length=1024)


class SessionInfo(BaseModel):
    username: str
    role: str
    csrf_token: str = Field(description="Send it as the X-CSRF-Token header on every POST, PUT "
                                        "and DELETE of this session")


class PatientSummary(BaseModel):
    id: int
    patient_key: str = Field(description="The record's `id`")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class PatientList(BaseModel):
    patients: list[PatientSummary]
    total: int
    limit: int
    offset: int


def _summary(stored: StoredPatient) -> dict[str, Any]:
    return {"id": stored.id, "patient_key": stored.patient_key, "version": stored.version,
            "created_at": stored.created_at.isoformat(), "updated_at": stored.updated_at.isoformat()}


def _stored(stored: StoredPatient, *, status: int = 200) -> JSONResponse:
    body = {**_summary(stored), "record": stored.record}
    headers = {"ETag": f'"{stored.version}"'}
    if status == 201:
        headers["Location"] = f"/api/v1/patients/{stored.id}"
    return JSONResponse(body, status_code=status, headers=headers)


def _expected_version(if_match: str | None) -> int:
    if if_match is None:
        raise HTTPException(428, 'If-Match header required: send If-Match: "<version>" with the '
                                 "version you last read (the ETag of GET /api/v1/patients/{id})")
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isascii() or not text.isdigit() or not 1 <= int(text[:12] or "0") <= MAX_ID:
        raise HTTPException(400, f'If-Match: got {if_match[:40]!r}; expected "<version>", a '
                                 "positive whole number as given in the patient's ETag")
    return int(text)


@router.get("/session", response_model=SessionInfo, responses=_ERRORS, tags=["session"],
            summary="The signed-in user and the session's anti-forgery token")
def get_session(principal: ApiPrincipal) -> SessionInfo:
    return SessionInfo(username=principal.user.username, role=principal.user.role,
                       csrf_token=principal.session.csrf_token)


@router.post("/session", response_model=SessionInfo, tags=["session"],
             summary="Sign in: sets the session cookie",
             responses={401: {"description": "Sign-in failed"},
                        429: {"description": "Too many failed attempts; see Retry-After"},
                        503: {"description": "The database is unavailable"}})
def create_session(request: Request, response: Response, credentials: Credentials) -> SessionInfo:
    token, session, user = sign_in(request, username=credentials.username,
                                   password=credentials.password)
    set_session_cookie(request, response, token)
    return SessionInfo(username=user.username, role=user.role, csrf_token=session.csrf_token)


@router.delete("/session", status_code=204, responses=_ERRORS, tags=["session"],
               summary="Sign out: ends the session")
def delete_session(request: Request, principal: ApiPrincipal) -> Response:
    del principal
    response = Response(status_code=204)
    end_session(request, response)
    return response


@router.post("/assess", tags=["assessment"], openapi_extra=_RECORD_BODY,
             summary="Assess a posted patient-record@1 (nothing is stored)",
             responses={200: _ref("Assessment"), **_ERRORS})
def assess_record(request: Request, principal: ApiPrincipal, body: JsonBody,
                  as_of: AsOf = None) -> dict[str, Any]:
    del principal
    clinic = web_state(request).clinic
    return clinic.assessment(body, clinic.as_of(as_of))


@router.post("/timeline", tags=["assessment"], openapi_extra=_RECORD_BODY,
             summary="Timeline of a posted patient-record@1: TIS and DOI per visit (nothing is stored)",
             responses={200: _ref("Timeline"), **_ERRORS})
def timeline_of_record(request: Request, principal: ApiPrincipal, body: JsonBody,
                       as_of: AsOf = None) -> dict[str, Any]:
    del principal
    clinic = web_state(request).clinic
    return clinic.timeline(body, clinic.as_of(as_of))


@router.get("/patients", response_model=PatientList, responses=_ERRORS, tags=["patients"],
            summary="Stored patients whose key contains q (audited)")
def list_stored(request: Request, principal: ApiPrincipal,
                q: Annotated[str, Query(max_length=200, pattern=r"^[^\x00]*$")] = "",
                limit: Annotated[int, Query(ge=1, le=500)] = 50,
                offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> dict[str, Any]:
    page = patients.list_patients(web_state(request).uow, principal.user, query=q, limit=limit,
                                  offset=offset)
    return {"patients": [_summary(p) for p in page.patients], "total": page.total,
            "limit": page.limit, "offset": page.offset}


@router.post("/patients", status_code=201, tags=["patients"], openapi_extra=_RECORD_BODY,
             summary="Store a new patient (validated first; audited)",
             responses={201: _ref("StoredPatient"), 409: {"description": "The record's id is taken"},
                        **_ERRORS})
def create_stored(request: Request, principal: ApiPrincipal, body: JsonBody) -> JSONResponse:
    state = web_state(request)
    document = body
    stored = patients.create_patient(state.uow, principal.user, document, parse=state.clinic.parse)
    return _stored(stored, status=201)


@router.get("/patients/{patient_id}", tags=["patients"], summary="A stored patient (audited)",
            responses={200: _ref("StoredPatient"), 404: {"description": "No such patient"}, **_ERRORS})
def read_stored(request: Request, principal: ApiPrincipal, patient_id: PatientId) -> JSONResponse:
    return _stored(patients.read_patient(web_state(request).uow, principal.user, patient_id))


@router.put("/patients/{patient_id}", tags=["patients"], openapi_extra=_RECORD_BODY,
            summary="Replace a stored patient's record (If-Match: its version; audited)",
            responses={200: _ref("StoredPatient"), 404: {"description": "No such patient"},
                       409: {"description": "Stale edit: someone else changed the patient"},
                       428: {"description": "If-Match missing"}, **_ERRORS})
def update_stored(request: Request, principal: ApiPrincipal, patient_id: PatientId, body: JsonBody,
                  if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> JSONResponse:
    state = web_state(request)
    version = _expected_version(if_match)
    stored = patients.update_patient(state.uow, principal.user, patient_id, body,
                                     expected_version=version, parse=state.clinic.parse)
    return _stored(stored)


@router.delete("/patients/{patient_id}", status_code=204, tags=["patients"],
               summary="Delete a stored patient (If-Match: its version; audited)",
               responses={404: {"description": "No such patient"},
                          409: {"description": "Stale: someone else changed the patient"},
                          428: {"description": "If-Match missing"}, **_ERRORS})
def delete_stored(request: Request, principal: ApiPrincipal, patient_id: PatientId,
                  if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> Response:
    version = _expected_version(if_match)
    patients.delete_patient(web_state(request).uow, principal.user, patient_id,
                            expected_version=version)
    return Response(status_code=204)


@router.get("/patients/{patient_id}/assessment", tags=["patients"],
            summary="Assessment of a stored patient (audited as a read)",
            responses={200: _ref("Assessment"), 404: {"description": "No such patient"}, **_ERRORS})
def assess_stored(request: Request, principal: ApiPrincipal, patient_id: PatientId,
                  as_of: AsOf = None) -> dict[str, Any]:
    state = web_state(request)
    day = state.clinic.as_of(as_of)
    stored = patients.read_patient(state.uow, principal.user, patient_id)
    return state.clinic.assessment(stored.record, day)


