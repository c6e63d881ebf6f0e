"""Every way a CDS Hooks call's JWT can be wrong gets the same bare 401; the token is never logged.

The calls are made as an EHR makes them (tests/e2e/cds_support.py signs real ES384/RS384 JWTs).
Each bad-token case is paired with a control that changes only what the case breaks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from tests.e2e.cds_support import (
    DISCOVERY_URL,
    FEEDBACK_URL,
    PUBLIC_URL,
    SERVICE_URL,
    Ehr,
    example_resources,
    hook_call,
    prefetch_of,
    write_config,
)
from tests.e2e.web_support import Web, make_web

SERVICE_PATH = "/cds-services/anti-mi2-dm-plan"


@dataclass
class Setup:
    web: Web
    client: TestClient
    ehr: Ehr
    rsa_ehr: Ehr
    body: dict[str, object]

    def call(self, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        response = self.client.post(SERVICE_PATH, headers=headers, json=self.body)
        return response.status_code, response.content, dict(response.headers)


@pytest.fixture(scope="module")
def keys() -> tuple[Ehr, Ehr]:
    return Ehr(), Ehr(iss="https://rsa-ehr.example.org", kid="rsa-1", algorithm="RS384")


@pytest.fixture
def setup(tmp_path: Path, keys: tuple[Ehr, Ehr]) -> Iterator[Setup]:
    ehr, rsa_ehr = keys
    web = make_web(tmp_path, cds_hooks=write_config(tmp_path, ehr, rsa_ehr))
    patient_id, resources = example_resources("non-severe")
    with web.client() as client:
        yield Setup(web=web, client=client, ehr=ehr, rsa_ehr=rsa_ehr,
                    body=hook_call(patient_id, prefetch_of(resources)))
    web.close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, object], claims: dict[str, object], signature: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64(signature)}"


def _hs256(s: Setup) -> str:
    """Algorithm confusion: HMAC-SHA256 keyed with the client's public JWK Set."""
    header = {"alg": "HS256", "typ": "JWT", "kid": s.ehr.kid}
    claims = s.ehr.claims(SERVICE_URL)
    head, body = _b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode())
    secret = json.dumps(s.ehr.jwks()).encode()
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _other_key_same_kid(s: Setup) -> str:
    impostor = Ehr(iss=s.ehr.iss, kid=s.ehr.kid)
    return impostor.token(SERVICE_URL)


def _es256(s: Setup) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(s.ehr.claims(SERVICE_URL), key, algorithm="ES256",
                      headers={"kid": s.ehr.kid, "typ": "JWT"})


def _tampered(s: Setup) -> str:
    head, _, signature = s.ehr.token(SERVICE_URL).split(".")
    body = _b64(json.dumps(s.ehr.claims(SERVICE_URL, iss=s.ehr.iss, tenant="x")).encode())
    return f"{head}.{body}.{signature}"


def _now() -> int:
    return int(time.time())


BAD: dict[str, Callable[[Setup], dict[str, str]]] = {
    "missing header": lambda s: {},
    "empty header": lambda s: {"Authorization": ""},
    "wrong scheme Basic": lambda s: {"Authorization": "Basic dXNlcjpwYXNz"},
    "wrong scheme, JWT without Bearer": lambda s: {"Authorization": s.ehr.token(SERVICE_URL)},
    "bad signature (another key, same kid)": lambda s: _bearer(_other_key_same_kid(s)),
    "tampered claims": lambda s: _bearer(_tampered(s)),
    "alg none": lambda s: _bearer(_unsigned({"alg": "none", "typ": "JWT", "kid": s.ehr.kid},
                                            s.ehr.claims(SERVICE_URL))),
    "alg HS256 keyed with the public JWKS": lambda s: _bearer(_hs256(s)),
    "alg RS256 (RSA key registered for RS384)": lambda s: _bearer(jwt.encode(
        s.rsa_ehr.claims(SERVICE_URL), s.rsa_ehr.key, algorithm="RS256",
        headers={"kid": s.rsa_ehr.kid, "typ": "JWT"})),
    "alg ES256": lambda s: _bearer(_es256(s)),
    "alg RS384 with the EC key's kid": lambda s: _bearer(jwt.encode(
        s.ehr.claims(SERVICE_URL, iss=s.ehr.iss), s.rsa_ehr.key, algorithm="RS384",
        headers={"kid": s.ehr.kid, "typ": "JWT"})),
    "unknown iss": lambda s: _bearer(s.ehr.token(SERVICE_URL, iss="https://evil.example.org")),
    "unknown kid": lambda s: _bearer(s.ehr.token(SERVICE_URL, headers={"kid": "other-key"})),
    "missing kid": lambda s: _bearer(jwt.encode(s.ehr.claims(SERVICE_URL), s.ehr.key,
                                                algorithm="ES384", headers={"typ": "JWT"})),
    "typ not JWT": lambda s: _bearer(s.ehr.token(SERVICE_URL, headers={"typ": "at+jwt"})),
    "wrong aud (discovery URL)": lambda s: _bearer(s.ehr.token(DISCOVERY_URL)),
    "wrong aud (the request's own host)": lambda s: _bearer(
        s.ehr.token("http://testserver/cds-services/anti-mi2-dm-plan")),
    "wrong aud (another service)": lambda s: _bearer(s.ehr.token(f"{PUBLIC_URL}/cds-services/x")),
    "expired": lambda s: _bearer(s.ehr.token(SERVICE_URL, exp=_now() - 120, iat=_now() - 180)),
    "issued in the future": lambda s: _bearer(s.ehr.token(SERVICE_URL, iat=_now() + 200,
                                                          exp=_now() + 260)),
    "lives too long": lambda s: _bearer(s.ehr.token(SERVICE_URL, exp=_now() + 3600)),
    "missing exp": lambda s: _bearer(s.ehr.token(SERVICE_URL, exp=None)),
    "missing jti": lambda s: _bearer(s.ehr.token(SERVICE_URL, jti=None)),
    "missing iss": lambda s: _bearer(s.ehr.token(SERVICE_URL, iss=None)),
    "missing iat": lambda s: _bearer(s.ehr.token(SERVICE_URL, iat=None)),
    "missing aud": lambda s: _bearer(s.ehr.token(SERVICE_URL, aud=None)),
    "empty jti": lambda s: _bearer(s.ehr.token(SERVICE_URL, jti="")),
    "jti holding NUL": lambda s: _bearer(s.ehr.token(SERVICE_URL, jti="a\x00b")),
    "jti holding a lone surrogate": lambda s: _bearer(s.ehr.token(SERVICE_URL, jti="a\ud800b")),
    "exp as a numeric string": lambda s: _bearer(s.ehr.token(SERVICE_URL, exp=str(_now() + 60))),
    "malformed: one segment": lambda s: {"Authorization": "Bearer abc"},
    "malformed: not base64": lambda s: {"Authorization": "Bearer !!!.???.***"},
    "malformed: JSON header is not an object": lambda s: _bearer(
        f"{_b64(b'[1]')}.{_b64(b'{}')}.{_b64(b'x')}"),
    "malformed: two tokens": lambda s: {"Authorization": "Bearer a.b.c d.e.f"},
}

REASON: dict[str, str] = {  # the log's reason code: each case is refused for what it breaks
    "missing header": "missing_authorization",
    "empty header": "missing_authorization",
    "wrong scheme Basic": "wrong_scheme",
    "wrong scheme, JWT without Bearer": "wrong_scheme",
    "bad signature (another key, same kid)": "bad_signature",
    "tampered claims": "bad_signature",
    "alg none": "alg_not_allowed",
    "alg HS256 keyed with the public JWKS": "alg_not_allowed",
    "alg RS256 (RSA key registered for RS384)": "alg_not_allowed",
    "alg ES256": "alg_not_allowed",
    "alg RS384 with the EC key's kid": "alg_not_allowed",
    "unknown iss": "unknown_iss",
    "unknown kid": "unknown_kid",
    "missing kid": "missing_kid",
    "typ not JWT": "wrong_typ",
    "wrong aud (discovery URL)": "wrong_aud",
    "wrong aud (the request's own host)": "wrong_aud",
    "wrong aud (another service)": "wrong_aud",
    "expired": "expired",
    "issued in the future": "issued_in_future",
    "lives too long": "lifetime_too_long",
    "missing exp": "missing_claim",
    "missing jti": "missing_claim",
    "missing iss": "missing_claim",
    "missing iat": "missing_claim",
    "missing aud": "missing_claim",
    "empty jti": "bad_jti",
    "jti holding NUL": "bad_jti",
    "jti holding a lone surrogate": "bad_jti",
    "exp as a numeric string": "bad_claim_type",
    "malformed: one segment": "malformed",
    "malformed: not base64": "malformed",
    "malformed: JSON header is not an object": "malformed",
    "malformed: two tokens": "malformed",
}


@pytest.mark.parametrize("case", list(BAD))
def test_every_bad_token_is_a_bare_401_and_never_logged(setup: Setup, case: str,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    headers = BAD[case](setup)
    with caplog.at_level(logging.DEBUG):
        status, body, response_headers = setup.call(headers)
    assert (status, body) == (401, b"")
    assert response_headers["www-authenticate"] == "Bearer"
    token = headers.get("Authorization", "").removeprefix("Bearer ").strip()
    for part in [token, *token.split(".")]:
        if len(part) > 8:
            assert part not in caplog.text
    assert f"CDS Hooks call refused: {REASON[case]}\n" in caplog.text
    assert [e.action for e in setup.web.audit()] == []  # nothing was read, nothing audited


def test_the_valid_es384_and_rs384_tokens_are_accepted(setup: Setup) -> None:
    assert setup.call(setup.ehr.auth(SERVICE_URL))[0] == 200
    assert setup.call(setup.rsa_ehr.auth(SERVICE_URL))[0] == 200
    assert setup.call(_bearer(setup.ehr.token([SERVICE_URL, "https://other.example.org"])))[0] == 200
    assert setup.call({"Authorization": f"bearer  {setup.ehr.token(SERVICE_URL)}"})[0] == 200


def test_a_replayed_jti_is_refused_even_with_a_fresh_signature(setup: Setup) -> None:
    token = setup.ehr.token(SERVICE_URL, jti="once-only")
    assert setup.call(_bearer(token))[0] == 200
    assert setup.call(_bearer(token))[:2] == (401, b"")
    assert setup.call(_bearer(setup.ehr.token(SERVICE_URL, jti="once-only")))[:2] == (401, b"")
    other_client = setup.rsa_ehr.token(SERVICE_URL, jti="once-only")  # jti is per iss
    assert setup.call(_bearer(other_client))[0] == 200


def test_discovery_and_feedback_need_a_token_for_their_own_url(setup: Setup) -> None:
    client = setup.client
    assert (client.get("/cds-services").status_code, client.get("/cds-services").content) == \
        (401, b"")
    assert client.get("/cds-services", headers=setup.ehr.auth(SERVICE_URL)).status_code == 401
    assert client.get("/cds-services", headers=setup.ehr.auth(DISCOVERY_URL)).status_code == 200
    feedback = {"feedback": [{"card": "x", "outcome": "overridden",
                              "outcomeTimestamp": "2026-11-21T08:00:00Z"}]}
    path = SERVICE_PATH + "/feedback"
    assert client.post(path, json=feedback).status_code == 401
    assert client.post(path, json=feedback, headers=setup.ehr.auth(SERVICE_URL)).status_code == 401
    assert client.post(path, json=feedback, headers=setup.ehr.auth(FEEDBACK_URL)).status_code == 200


def test_without_configuration_every_call_is_refused(tmp_path: Path, keys: tuple[Ehr, Ehr]) -> None:
    web = make_web(tmp_path)
    try:
        with web.client() as client:
            response = client.get("/cds-services", headers=keys[0].auth(DISCOVERY_URL))
            assert (response.status_code, response.content) == (401, b"")
    finally:
        web.close()


def test_a_token_used_on_one_server_process_is_refused_by_another(setup: Setup,
                                                                  tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    config = write_config(tmp_path / "other", setup.ehr, setup.rsa_ehr)
    second = make_web(tmp_path, url=setup.web.url, cds_hooks=config)  # same database
    token = setup.ehr.token(SERVICE_URL)
    try:
        with second.client() as other:
            response = other.post(SERVICE_PATH, headers=_bearer(token), json=setup.body)
            assert response.status_code == 200
    finally:
        second.close()
    assert setup.call(_bearer(token))[:2] == (401, b"")
    # the card issued by the other process is known here: its feedback names the rule
    card = response.json()["cards"][-1]  # the plan card comes last
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                              "outcomeTimestamp": "2026-11-21T08:00:00Z"}]}
    answer = setup.client.post(SERVICE_PATH + "/feedback", json=feedback,
                               headers=setup.ehr.auth(FEEDBACK_URL))
    assert answer.status_code == 200
    assert setup.web.audit()[-1].detail == "anti-mi2-dm-plan card PLAN: overridden"
