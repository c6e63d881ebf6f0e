"""CDS Hooks client registry (the clients file, JWK Sets) and JWT verification, without a server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from myositis_cds.entrypoints.web.cds_hooks.config import (
    CdsClient,
    CdsHooksConfig,
    config_from_environment,
    load_config,
    parse_jwks,
)
from myositis_cds.entrypoints.web.cds_hooks.security import TokenRefusedError, verify_token
from myositis_cds.errors import SettingsError

AUD = "https://cds.example.org/cds-services/anti-mi2-dm-plan"
ISS = "https://ehr.example.org"


class MemoryReplay:
    """The replay guard's contract in a dict (the application's is in the database)."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], float] = {}

    def remember(self, iss: str, jti: str, *, expires: float, now: float) -> bool:
        self.seen = {k: v for k, v in self.seen.items() if v > now}
        if (iss, jti) in self.seen:
            return False
        self.seen[(iss, jti)] = expires
        return True


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def _jwk(key: Any, **extra: Any) -> dict[str, Any]:
    public = key.public_key()
    algorithm = ECAlgorithm if isinstance(public, ec.EllipticCurvePublicKey) else RSAAlgorithm
    return {**algorithm.to_jwk(public, as_dict=True), "kid": "k1", **extra}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clients.toml"
    path.write_text(text, "utf-8")
    return path


def _client_toml(jwk: dict[str, Any], **extra: str) -> str:
    inline = ", ".join(f"{k} = {json.dumps(v)}" for k, v in jwk.items())
    lines = ['public_url = "https://cds.example.org/"', "[[client]]", f'iss = "{ISS}"',
             f"jwks = {{ keys = [ {{ {inline} }} ] }}", *[f"{k} = {v}" for k, v in extra.items()]]
    return "\n".join(lines) + "\n"


def test_a_clients_file_with_inline_and_file_jwks(tmp_path: Path,
                                                  ec_key: ec.EllipticCurvePrivateKey) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "second.json").write_text(json.dumps({"keys": [_jwk(rsa_key, alg="RS384")]}))
    text = _client_toml(_jwk(ec_key, use="sig"), fhir_servers='["https://ehr.example.org/fhir/"]')
    text += '[[client]]\niss = "https://second.example.org"\njwks_file = "second.json"\n'
    config = load_config(_write(tmp_path, text))
    assert config.public_url == "https://cds.example.org"
    assert config.endpoint_url("/cds-services") == "https://cds.example.org/cds-services"
    assert sorted(config.clients) == [ISS, "https://second.example.org"]
    assert config.clients[ISS].keys["k1"].algorithm == "ES384"
    assert config.clients[ISS].fhir_servers == ("https://ehr.example.org/fhir",)
    assert config.clients["https://second.example.org"].keys["k1"].algorithm == "RS384"
    assert config.cors_origins == ("*",)
    assert config.card_source_url == "https://cds.example.org/"


def test_the_environment_names_the_file_and_may_set_the_public_url(
        tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> None:
    path = _write(tmp_path, _client_toml(_jwk(ec_key)))
    assert config_from_environment({}) is None
    config = config_from_environment({"MYOSITIS_CDS_CDS_CLIENTS": str(path),
                                      "MYOSITIS_CDS_PUBLIC_URL": "https://cds.example.net"})
    assert config is not None
    assert config.public_url == "https://cds.example.net"


@pytest.mark.parametrize(("change", "path", "expected"), [
    ({"d": "c2VjcmV0"}, "client[0].jwks.keys[0].d", "a public key only"),
    ({"alg": "ES256"}, "client[0].jwks.keys[0].alg", "ES384 for a EC key"),
    ({"use": "enc"}, "client[0].jwks.keys[0].use", "'sig'"),
    ({"kty": "oct"}, "client[0].jwks.keys[0].kty", "'EC' (P-384, ES384) or 'RSA' (RS384)"),
    ({"kid": ""}, "client[0].jwks.keys[0].kid", "a non-empty string"),
])
def test_unsafe_or_wrong_keys_are_refused(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey,
                                          change: dict[str, str], path: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_config(_write(tmp_path, _client_toml(_jwk(ec_key) | change)))
    (error,) = caught.value.errors
    assert error.path == path
    assert expected in error.expected


def test_weak_curves_and_short_rsa_keys_are_refused() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(SettingsError, match=r"keys\[0\]\.crv: got 'P-256'; expected 'P-384'"):
        parse_jwks({"keys": [_jwk(p256)]})
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(SettingsError, match="got 1024; expected an RSA public key of at least 2048"):
        parse_jwks({"keys": [_jwk(short)]})
    key = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(SettingsError, match="a kid unique within the JWK Set"):
        parse_jwks({"keys": [_jwk(key), _jwk(key)]})
    with pytest.raises(SettingsError, match="a non-empty list of JWKs"):
        parse_jwks({"keys": []})


@pytest.mark.parametrize(("text", "message"), [
    ("[[client]]\niss = 'x'\n", "public_url: got None; expected this service's public base URL"),
    ('public_url = "ftp://x"\n', "public_url: got 'ftp://x'; expected an absolute http(s) URL"),
    ('public_url = "https://x"\nretries = 3\n', "retries: got 3; expected one of"),
    ('public_url = "https://x"\nmax_token_lifetime = 0\n',
     "max_token_lifetime: got 0; expected a positive number"),
    ('public_url = "https://x"\n[[client]]\niss = "a"\n',
     "client[0].jwks: got '<none>'; expected exactly one of jwks"),
    ('public_url = "https://x"\n[[client]]\niss = "a"\njwks_file = "none.json"\n',
     "client[0].jwks_file: got "),
    ('public_url = "https://x"\n[[client]]\niss = "a"\nfhir_servers = ["x"]\njwks_file = "j"\n',
     "client[0].fhir_servers: got ['x']; expected a list of absolute http(s) base URLs"),
    ('public_url = "https://x"\ncors_origins = "*"\n', "cors_origins: got '*'; expected a list"),
    ("public_url = \n", "expected a readable TOML file"),
])
def test_a_bad_clients_file_names_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_config(_write(tmp_path, text))
    assert message in str(caught.value)


def _config(ec_key: ec.EllipticCurvePrivateKey) -> CdsHooksConfig:
    client = CdsClient(iss=ISS, keys=parse_jwks({"keys": [_jwk(ec_key)]}))
    return CdsHooksConfig(public_url="https://cds.example.org", clients={ISS: client})


def _token(ec_key: ec.EllipticCurvePrivateKey, now: int, **claims: Any) -> str:
    payload = {"iss": ISS, "aud": AUD, "exp": now + 60, "iat": now, "jti": "j-1", **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, ec_key,
                      algorithm="ES384", headers={"kid": "k1", "typ": "JWT"})


def _verify(config: CdsHooksConfig | None, token: str, now: float, replay: MemoryReplay | None = None) -> str:
    try:
        client = verify_token(f"Bearer {token}", config=config, audience=AUD,
                              replay=replay or MemoryReplay(), now=now)
    except TokenRefusedError as exc:
        return exc.reason
    return client.iss


def test_lifetime_and_clock_skew_limits(ec_key: ec.EllipticCurvePrivateKey) -> None:
    config = _config(ec_key)  # max_token_lifetime 300 s, clock_skew 30 s
    now = int(time.time())
    assert _verify(config, _token(ec_key, now, exp=now + 330), now) == ISS
    assert _verify(config, _token(ec_key, now, exp=now + 331), now) == "lifetime_too_long"
    assert _verify(config, _token(ec_key, now, iat=now - 400, exp=now + 10), now) == \
        "lifetime_too_long"
    assert _verify(config, _token(ec_key, now, iat=now - 40, exp=now - 20), now) == ISS  # skew
    assert _verify(config, _token(ec_key, now, iat=now - 90, exp=now - 31), now) == "expired"
    assert _verify(config, _token(ec_key, now, jti="x" * 257), now) == "bad_jti"
    assert _verify(config, _token(ec_key, now, jti=7), now) == "bad_jti"
    assert _verify(config, _token(ec_key, now, jti="a\x00b"), now) == "bad_jti"
    assert _verify(config, _token(ec_key, now, jti="a\ud800b"), now) == "bad_jti"
    assert _verify(config, _token(ec_key, now, exp=str(int(now) + 60)), now) == "bad_claim_type"
    assert _verify(config, _token(ec_key, now, iat=str(int(now))), now) == "bad_claim_type"
    assert _verify(config, _token(ec_key, now, exp=True), now) == "bad_claim_type"
    assert _verify(None, _token(ec_key, now), now) == "not_configured"


def test_the_replay_guard_is_asked_once_per_accepted_token(ec_key: ec.EllipticCurvePrivateKey) -> None:
    config, replay, now = _config(ec_key), MemoryReplay(), int(time.time())
    token = _token(ec_key, now)
    assert _verify(config, token, now, replay) == ISS
    assert replay.seen == {(ISS, "j-1"): now + 60 + 30}  # kept until exp plus the clock skew
    assert _verify(config, token, now + 1, replay) == "replayed"
    assert _verify(config, _token(ec_key, now, jti="j-2"), now, replay) == ISS
