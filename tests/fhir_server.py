"""A small FHIR R4 server with a SMART App Launch 2.x authorization server, for the tests.

Written for the tests from the specifications (FHIR R4 RESTful API: read, search with ``_count``
paging and ``_include``, transaction Bundles with conditional create ``ifNoneExist``; SMART App
Launch 2.0: ``.well-known/smart-configuration``, authorization code flow with PKCE S256, EHR launch
with ``launch``, standalone launch with ``launch/patient``), serving on 127.0.0.1 in a thread:

- ``{base}/fhir/...``: the FHIR API; every request needs ``Authorization: Bearer`` with a token this
  server issued (or :attr:`FhirServer.static_token`), and a patient-scoped token reads only its
  patient's compartment;
- ``{base}/oauth/authorize`` (GET): checks ``response_type``, ``client_id``, ``redirect_uri``,
  ``scope``, ``aud`` (the FHIR base), ``state`` and the PKCE challenge, and answers with a redirect
  carrying a code (the user "approves" at once — :attr:`FhirServer.deny` makes them refuse);
- ``{base}/oauth/token`` (POST form): checks the code, ``redirect_uri``, ``client_id`` and the
  ``code_verifier`` against the challenge (S256), and answers the access token with ``patient``,
  ``scope`` and ``expires_in``;
- ``{base}/jwks.json``: a JWK Set the test sets (:attr:`FhirServer.jwks`), counting requests.

Everything it received is in :attr:`FhirServer.requests` (method, path with query, headers).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["FhirServer", "serve_fhir"]


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str
    patient: str | None


@dataclass
class FhirServer:
    """The server's state (see the module docstring)."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    clients: dict[str, set[str]] = field(default_factory=dict)
    """client_id → registered redirect URIs."""
    launches: dict[str, str] = field(default_factory=dict)
    """EHR launch parameter → patient id (the EHR's context)."""
    standalone_patient: str | None = None
    """The patient the user picks in a standalone launch."""
    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    static_token: str | None = None
    deny: bool = False
    grant_scope: str | None = None
    """When set, the scope granted whatever was asked (e.g. without patient reads)."""
    base: str = ""
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    jwks_requests: int = 0
    _grants: dict[str, _Grant] = field(default_factory=dict)
    _tokens: dict[str, str | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def fhir_base(self) -> str:
        return f"{self.base}/fhir"

    # --- FHIR ------------------------------------------------------------------------------------

    def _patient_of(self, resource: dict[str, Any]) -> str | None:
        if resource["resourceType"] == "Patient":
            return str(resource["id"])
        for name in ("subject", "patient"):
            reference = resource.get(name, {}).get("reference", "")
            if reference.startswith("Patient/"):
                return str(reference.removeprefix("Patient/"))
        return None

    def search(self, resource_type: str, query: dict[str, list[str]],
               allowed: str | None) -> dict[str, Any]:
        patient = query.get("patient", [None])[0]
        if allowed is not None and patient != allowed:
            return _outcome("forbidden", "this token reads its own patient only")
        matches = [r for r in self.resources if r["resourceType"] == resource_type
                   and (patient is None or self._patient_of(r) == patient)]
        count = int(query.get("_count", ["50"])[0])
        offset = int(query.get("_offset", ["0"])[0])
        page = matches[offset:offset + count]
        entries = [{"fullUrl": f"{self.fhir_base}/{r['resourceType']}/{r['id']}", "resource": r,
                    "search": {"mode": "match"}} for r in page]
        for include in query.get("_include", []):
            if include.endswith(":medication"):
                wanted = {r.get("medicationReference", {}).get("reference") for r in page}
                entries += [{"fullUrl": f"{self.fhir_base}/Medication/{m['id']}", "resource": m,
                             "search": {"mode": "include"}}
                            for m in self.resources if m["resourceType"] == "Medication"
                            and f"Medication/{m['id']}" in wanted]
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset",
                                  "total": len(matches), "entry": entries, "link": []}
        if offset + count < len(matches):
            following = {**{k: v[0] for k, v in query.items() if k != "_include"},
                         "_offset": str(offset + count)}
            url = f"{self.fhir_base}/{resource_type}?{urlencode(following)}"
            url += "".join(f"&_include={i}" for i in query.get("_include", []))
            bundle["link"].append({"relation": "next", "url": url})
        return bundle

    def transaction(self, bundle: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A transaction Bundle: POST entries, conditional create by ``ifNoneExist`` on an
        identifier (FHIR R4 3.1.0.8.1), ``urn:uuid:`` references rewritten to the ids given."""
        with self._lock:
            assigned: dict[str, str] = {}
            answers = []
            for entry in bundle.get("entry", []):
                request = entry.get("request", {})
                resource = entry["resource"]
                if request.get("method") != "POST":
                    return 400, _outcome("not-supported", "only POST entries")
                match = self._conditional(resource["resourceType"], request.get("ifNoneExist"))
                if match == "many":
                    return 412, _outcome("duplicate", "ifNoneExist matched several resources")
                if match is not None:
                    assigned[entry["fullUrl"]] = f"{resource['resourceType']}/{match['id']}"
                    answers.append({"response": {"status": "200 OK",
                                                 "location": assigned[entry["fullUrl"]]}})
                    continue
                stored = {**resource, "id": secrets.token_hex(8)}
                assigned[entry["fullUrl"]] = f"{resource['resourceType']}/{stored['id']}"
                self.resources.append(stored)
                answers.append({"response": {"status": "201 Created",
                                             "location": assigned[entry["fullUrl"]]}})
            text = json.dumps(self.resources)
            for url, reference in assigned.items():
                text = text.replace(f'"{url}"', f'"{reference}"')
            self.resources[:] = json.loads(text)
        return 200, {"resourceType": "Bundle", "type": "transaction-response", "entry": answers}

    def _conditional(self, resource_type: str, criteria: str | None) -> Any:
        if not criteria:
            return None
        query = parse_qs(criteria)
        system, _, value = query.get("identifier", [""])[0].partition("|")
        found = [r for r in self.resources if r["resourceType"] == resource_type and any(
            i.get("system") == system and i.get("value") == value
            for i in r.get("identifier", []))]
        if len(found) > 1:
            return "many"
        return found[0] if found else None

    # --- OAuth -----------------------------------------------------------------------------------

    def authorize(self, query: dict[str, str]) -> tuple[int, str]:
        """(status, Location or error text) of an authorization request."""
        redirect = query.get("redirect_uri", "")
        client = query.get("client_id", "")
        if redirect not in self.clients.get(client, set()):
            return 400, "unknown client_id or redirect_uri"
        state = query.get("state", "")
        scope = query.get("scope", "")
        problems = []
        if query.get("response_type") != "code":
            problems.append("response_type")
        if query.get("aud") != self.fhir_base:
            problems.append("aud")
        if query.get("code_challenge_method") != "S256" or len(query.get("code_challenge",
                                                                         "")) < 43:
            problems.append("code_challenge")
        if not state:
            problems.append("state")
        scopes = set(scope.split())
        patient = None
        if "launch" in scopes:
            patient = self.launches.get(query.get("launch", ""))
            if patient is None:
                problems.append("launch")
        elif "launch/patient" in scopes:
            patient = self.standalone_patient
        if problems:
            return 302, f"{redirect}?{urlencode({'error': 'invalid_request', 'state': state})}"
        if self.deny:
            return 302, f"{redirect}?{urlencode({'error': 'access_denied', 'state': state})}"
        code = secrets.token_urlsafe(16)
        granted = self.grant_scope if self.grant_scope is not None else " ".join(
            s for s in scope.split() if s != "launch")
        self._grants[code] = _Grant(client_id=client, redirect_uri=redirect, scope=granted,
                                    challenge=query["code_challenge"], patient=patient)
        return 302, f"{redirect}?{urlencode({'code': code, 'state': state})}"

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = self._grants.pop(form.get("code", ""), None)
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if (challenge.rstrip(b"=").decode() != grant.challenge
                or form.get("redirect_uri") != grant.redirect_uri
                or form.get("client_id") != grant.client_id):
            return 400, {"error": "invalid_grant"}
        token = secrets.token_urlsafe(24)
        self._tokens[token] = grant.patient
        answer: dict[str, Any] = {"access_token": token, "token_type": "Bearer",
                                  "expires_in": 3600, "scope": grant.scope}
        if grant.patient is not None:
            answer["patient"] = grant.patient
        return 200, answer

    def token_patient(self, authorization: str | None) -> tuple[bool, str | None]:
        """(valid, the token's patient — None for an unrestricted token)."""
        token = (authorization or "").removeprefix("Bearer ").strip()
        if token and token == self.static_token:
            return True, None
        if token in self._tokens:
            return True, self._tokens[token]
        return False, None


def _outcome(code: str, text: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}]}


def _handler(server: FhirServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            return

        def _send(self, status: int, body: object, *, kind: str = "application/fhir+json",
                  headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode() if not isinstance(body, bytes) else body
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            server.requests.append(("GET", self.path, dict(self.headers)))
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if parts.path == "/jwks.json":
                server.jwks_requests += 1
                self._send(200, server.jwks, kind="application/json")
            elif parts.path == "/fhir/.well-known/smart-configuration":
                self._send(200, {
                    "authorization_endpoint": f"{server.base}/oauth/authorize",
                    "token_endpoint": f"{server.base}/oauth/token",
                    "capabilities": ["launch-ehr", "launch-standalone", "client-public",
                                     "context-ehr-patient", "context-standalone-patient",
                                     "permission-patient", "permission-v1"],
                    "code_challenge_methods_supported": ["S256"],
                    "scopes_supported": ["launch", "launch/patient", "patient/*.read", "openid",
                                         "fhirUser"],
                    "response_types_supported": ["code"]}, kind="application/json")
            elif parts.path == "/oauth/authorize":
                status, text = server.authorize({k: v[0] for k, v in query.items()})
                if status == 302:
                    self._send(302, b"", kind="text/plain", headers={"Location": text})
                else:
                    self._send(status, text.encode(), kind="text/plain")
            elif parts.path.startswith("/fhir/"):
                self._fhir(parts.path.removeprefix("/fhir/"), query)
            else:
                self._send(404, _outcome("not-found", "no such path"))

        def _fhir(self, path: str, query: dict[str, list[str]]) -> None:
            valid, allowed = server.token_patient(self.headers.get("Authorization"))
            if not valid:
                self._send(401, _outcome("login", "a bearer token is required"))
                return
            if "/" in path:
                resource_type, resource_id = path.split("/", 1)
                found = [r for r in server.resources if r["resourceType"] == resource_type
                         and r.get("id") == resource_id]
                if not found:
                    self._send(404, _outcome("not-found", "no such resource"))
                elif allowed is not None and server._patient_of(found[0]) != allowed:
                    self._send(403, _outcome("forbidden", "another patient"))
                else:
                    self._send(200, found[0])
                return
            bundle = server.search(path, query, allowed)
            self._send(403 if bundle["resourceType"] == "OperationOutcome" else 200, bundle)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            server.requests.append(("POST", self.path, dict(self.headers)))
            if self.path == "/oauth/token":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                status, answer = server.token(form)
                self._send(status, answer, kind="application/json",
                           headers={"Cache-Control": "no-store"})
            elif self.path in {"/fhir", "/fhir/"}:
                valid, allowed = server.token_patient(self.headers.get("Authorization"))
                if not valid or allowed is not None:
                    self._send(401, _outcome("login", "a system token is required"))
                    return
                status, answer = server.transaction(json.loads(body))
                self._send(status, answer)
            else:
                self._send(404, _outcome("not-found", "no such path"))

    return Handler


@contextmanager
def serve_fhir(server: FhirServer | None = None) -> Iterator[FhirServer]:
    """Run ``server`` on 127.0.0.1 (a free port) in a thread; its ``base`` is set."""
    state = server or FhirServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
