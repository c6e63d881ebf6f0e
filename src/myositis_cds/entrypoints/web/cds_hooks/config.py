"""Configuration of the CDS Hooks service: this service's public URL and the registered EHR clients.

A site registers each CDS client (an EHR) in a TOML file named by ``MYOSITIS_CDS_CDS_CLIENTS``::

    public_url = "https://cds.example.org"          # or MYOSITIS_CDS_PUBLIC_URL (which wins)
    smart_launch_url = "https://cds.example.org/smart/launch"   # optional: cards get a smart link
    cors_origins = ["https://ehr.example.org"]     # optional; default ["*"] (no cookies are used)

    [[client]]
    iss = "https://ehr.example.org"                 # the JWT's iss, exactly
    jwks_url = "https://ehr.example.org/.well-known/jwks.json"   # fetched and cached, or:
    # jwks_file = "ehr-jwks.json"                   # a JWK Set (relative to this file), or inline:
    # jwks = { keys = [ { kty = "EC", crv = "P-384", kid = "k1", x = "...", y = "..." } ] }
    fhir_servers = ["https://ehr.example.org/fhir"] # fhirServer values this service may call

Keys come only from this configuration (inline, a file, or the configured JWK Set URL, cached
``jwks_cache_seconds`` and fetched again for an unknown ``kid``: :mod:`.jwks`): a JWT's ``jku``
header is never fetched. Every key must be
an EC P-384 key (ES384) or an RSA key of at least 2048 bits (RS384); a key's ``alg``, when given,
must agree and its ``use``, when given, must be ``sig``. The JWT ``aud`` must equal the URL of the
endpoint called under ``public_url``; the request's own host is never trusted for that.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from myositis_cds.entrypoints.web.cds_hooks.jwks import RemoteJwks, is_jwks_url
from myositis_cds.errors import FieldError, SettingsError

__all__ = [
    "ALLOWED_ALGORITHMS",
    "CLIENTS_VARIABLE",
    "PUBLIC_URL_VARIABLE",
    "CdsClient",
    "CdsHooksConfig",
    "ClientKey",
    "config_from_environment",
    "load_config",
    "parse_jwks",
]

CLIENTS_VARIABLE: Final = "MYOSITIS_CDS_CDS_CLIENTS"
PUBLIC_URL_VARIABLE: Final = "MYOSITIS_CDS_PUBLIC_URL"
ALLOWED_ALGORITHMS: Final = ("ES384", "RS384")
MIN_RSA_BITS: Final = 2048
Algorithm = Literal["ES384", "RS384"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientKey:
    """One public key of a client: the only algorithm it verifies, and the key itself."""

    kid: str
    algorithm: Algorithm
    key: Any = field(repr=False)
    """A ``cryptography`` public key object."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CdsClient:
    """A registered CDS client (EHR): its ``iss``, its keys by ``kid`` (configured, or from its
    JWK Set URL) and the FHIR servers it may hand us (``fhirServer`` values we may call with its
    bearer token; none by default)."""

    iss: str
    keys: Mapping[str, ClientKey]
    fhir_servers: tuple[str, ...] = ()
    remote: RemoteJwks | None = None
    """The client's JWK Set URL, fetched and cached, when it was registered with ``jwks_url``."""

    def key(self, kid: str) -> ClientKey | None:
        """The key of ``kid``: a configured one, else from the JWK Set URL (maybe fetched now)."""
        found = self.keys.get(kid)
        if found is None and self.remote is not None:
            remote = self.remote.key(kid)
            return remote if isinstance(remote, ClientKey) else None
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class CdsHooksConfig:
    """How the CDS Hooks endpoints run. Without a config every call is refused (401)."""

    public_url: str
    """This service's base URL as clients call it (``aud`` is ``{public_url}/cds-services...``)."""
    clients: Mapping[str, CdsClient]
    """Registered clients by ``iss``."""
    smart_launch_url: str | None = None
    """SMART launch URL of the patient page: cards link there with type ``smart``; without it they
    link to the stored patient's page (type ``absolute``) when the patient is stored here."""
    source_url: str | None = None
    """``card.source.url`` (default: ``{public_url}/``)."""
    cors_origins: tuple[str, ...] = ("*",)
    """Browser origins allowed to call the endpoints (``*``: any; credentials are never allowed)."""
    max_token_lifetime: int = 300
    """Seconds: a JWT whose ``exp`` lies further than this after now (or after its ``iat``) is
    refused (CDS Hooks tokens are short-lived; the replay guard keeps each ``jti`` that long)."""
    clock_skew: int = 30
    """Seconds of clock difference tolerated on ``exp`` and ``iat``."""
    fetch_timeout: float = 5.0
    """Seconds per request to a client's FHIR server."""
    fetch_max_pages: int = 100
    """Search result pages followed per prefetch key; more is refused (412)."""
    jwks_cache_seconds: int = 3600
    """How long keys fetched from a client's ``jwks_url`` are used before they are fetched again
    (an unknown ``kid`` fetches them again at most once a minute)."""
    fetch_page_size: int = 1000
    """``_count`` of each search the service makes (a real chart's 1,270 Observations are two
    pages; 100 pages of 1,000 serve 100,000 resources per search)."""

    def __post_init__(self) -> None:
        problems = []
        for name in ("public_url", "smart_launch_url", "source_url"):
            value = getattr(self, name)
            if value is not None and not _is_http_url(value):
                problems.append(FieldError(path=name, value=value,
                                           expected="an absolute http(s) URL"))
        for name in ("max_token_lifetime", "fetch_max_pages", "fetch_page_size",
                     "jwks_cache_seconds"):
            if getattr(self, name) < 1:
                problems.append(FieldError(path=name, value=getattr(self, name),
                                           expected="a positive number"))
        if self.clock_skew < 0 or self.fetch_timeout <= 0:
            problems.append(FieldError(path="clock_skew/fetch_timeout",
                                       value=f"{self.clock_skew}/{self.fetch_timeout}",
                                       expected="clock_skew >= 0 and fetch_timeout > 0"))
        if problems:
            raise SettingsError(problems, source="CDS Hooks configuration")
        object.__setattr__(self, "public_url", self.public_url.rstrip("/"))

    def endpoint_url(self, path: str) -> str:
        """The absolute URL of ``path`` (``/cds-services...``) as the ``aud`` must name it."""
        return self.public_url + path

    @property
    def card_source_url(self) -> str:
        return self.source_url or self.public_url + "/"


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.query \
        and not parts.fragment


def _key(jwk: object, where: str) -> ClientKey:
    if not isinstance(jwk, dict):
        raise SettingsError([FieldError(path=where, value=type(jwk).__name__,
                                        expected="a JWK (JSON object)")], source="CDS Hooks JWKS")
    kid, kty = jwk.get("kid"), jwk.get("kty")
    algorithm: Algorithm | None = "ES384" if kty == "EC" else "RS384" if kty == "RSA" else None
    problems = []
    if not isinstance(kid, str) or not kid:
        problems.append(FieldError(path=f"{where}.kid", value=kid, expected="a non-empty string"))
    if algorithm is None:
        problems.append(FieldError(path=f"{where}.kty", value=kty,
                                   expected="'EC' (P-384, ES384) or 'RSA' (RS384)"))
    if jwk.get("alg", algorithm) != algorithm:
        problems.append(FieldError(path=f"{where}.alg", value=jwk.get("alg"),
                                   expected=f"{algorithm} for a {kty} key (ES384 or RS384 only)"))
    if jwk.get("use", "sig") != "sig":
        problems.append(FieldError(path=f"{where}.use", value=jwk.get("use"), expected="'sig'"))
    if "d" in jwk:
        problems.append(FieldError(path=f"{where}.d", value="<private key>",
                                   expected="a public key only (remove 'd': never share the EHR's "
                                            "private key)"))
    if problems or algorithm is None or not isinstance(kid, str):
        raise SettingsError(problems, source="CDS Hooks JWKS")
    try:
        key = jwt.PyJWK(jwk, algorithm=algorithm).key
    except (jwt.PyJWKError, ValueError, TypeError) as exc:
        raise SettingsError([FieldError(path=where, value=kid, expected=f"a valid {kty} public key "
                                        f"({type(exc).__name__})")], source="CDS Hooks JWKS") from None
    if algorithm == "ES384" and not (isinstance(key, ec.EllipticCurvePublicKey)
                                     and key.curve.name == "secp384r1"):
        raise SettingsError([FieldError(path=f"{where}.crv", value=jwk.get("crv"),
                                        expected="'P-384' (ES384)")], source="CDS Hooks JWKS")
    if algorithm == "RS384" and not (isinstance(key, rsa.RSAPublicKey)
                                     and key.key_size >= MIN_RSA_BITS):
        raise SettingsError([FieldError(path=f"{where}.n", value=getattr(key, "key_size", None),
                                        expected=f"an RSA public key of at least {MIN_RSA_BITS} "
                                                 "bits")], source="CDS Hooks JWKS")
    return ClientKey(kid=kid, algorithm=algorithm, key=key)


def parse_jwks(jwks: object, *, where: str = "jwks") -> dict[str, ClientKey]:
    """The keys of a JWK Set (``{"keys": [...]}``) by ``kid``; kids must be unique."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise SettingsError([FieldError(path=f"{where}.keys", value=keys,
                                        expected="a non-empty list of JWKs (a JWK Set)")],
                            source="CDS Hooks JWKS")
    found: dict[str, ClientKey] = {}
    for index, jwk in enumerate(keys):
        key = _key(jwk, f"{where}.keys[{index}]")
        if key.kid in found:
            raise SettingsError([FieldError(path=f"{where}.keys[{index}].kid", value=key.kid,
                                            expected="a kid unique within the JWK Set")],
                                source="CDS Hooks JWKS")
        found[key.kid] = key
    return found


_KEY_SOURCES: Final = ("jwks", "jwks_file", "jwks_url")


def _client(entry: object, index: int, base: Path, *, jwks_ttl: float) -> CdsClient:
    where = f"client[{index}]"
    if not isinstance(entry, dict):
        raise SettingsError([FieldError(path=where, value=type(entry).__name__,
                                        expected="a table with iss and jwks, jwks_file or jwks_url")])
    unknown = sorted(set(entry) - {"iss", "fhir_servers", *_KEY_SOURCES})
    iss = entry.get("iss")
    problems = [FieldError(path=f"{where}.{name}", value=entry[name],
                           expected="one of iss, jwks, jwks_file, jwks_url, fhir_servers")
                for name in unknown]
    if not isinstance(iss, str) or not iss.strip() or len(iss) > 200:
        problems.append(FieldError(path=f"{where}.iss", value=iss,
                                   expected="the client's JWT iss (1 to 200 characters)"))
    sources = [name for name in _KEY_SOURCES if name in entry]
    if len(sources) != 1:
        problems.append(FieldError(path=f"{where}.jwks", value=sources or "<none>",
                                   expected="exactly one of jwks (inline), jwks_file (a path) or "
                                            "jwks_url (the EHR's JWK Set URL)"))
    if "jwks_url" in entry and not is_jwks_url(entry["jwks_url"]):
        problems.append(FieldError(path=f"{where}.jwks_url", value=entry["jwks_url"],
                                   expected="an https URL (http only on the loopback interface)"))
    servers = entry.get("fhir_servers", [])
    if not isinstance(servers, list) or not all(_is_http_url(s) for s in servers):
        problems.append(FieldError(path=f"{where}.fhir_servers", value=servers,
                                   expected="a list of absolute http(s) base URLs"))
    if problems or not isinstance(iss, str):
        raise SettingsError(problems, source="CDS Hooks clients file")
    fhir_servers = tuple(str(s).rstrip("/") for s in servers)
    if "jwks_url" in entry:
        remote = RemoteJwks(url=str(entry["jwks_url"]), where=f"{where}.jwks_url", ttl=jwks_ttl,
                            parse=lambda document, at: parse_jwks(document, where=at))
        return CdsClient(iss=iss, keys={}, fhir_servers=fhir_servers, remote=remote)
    if "jwks_file" in entry:
        path = base / str(entry["jwks_file"])
        try:
            jwks = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise SettingsError([FieldError(path=f"{where}.jwks_file", value=str(path),
                                            expected=f"a readable JSON JWK Set ({exc})")],
                                source="CDS Hooks clients file") from None
    else:
        jwks = entry["jwks"]
    return CdsClient(iss=iss, keys=parse_jwks(jwks, where=f"{where}.jwks"),
                     fhir_servers=fhir_servers)


_OPTIONS: Final = ("smart_launch_url", "source_url", "max_token_lifetime", "clock_skew",
                   "fetch_timeout", "fetch_max_pages", "fetch_page_size", "jwks_cache_seconds")


def load_config(path: Path, *, public_url: str | None = None) -> CdsHooksConfig:
    """The configuration in the TOML file ``path``; ``public_url`` (if given) replaces the file's."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError([FieldError(path=str(path), value=None,
                                        expected=f"a readable TOML file ({exc})")],
                            source="CDS Hooks clients file") from None
    allowed = {"public_url", "cors_origins", "client", *_OPTIONS}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise SettingsError([FieldError(path=name, value=data[name],
                                        expected=f"one of {', '.join(sorted(allowed))}")
                             for name in unknown], source="CDS Hooks clients file")
    url = public_url or data.get("public_url")
    if not isinstance(url, str):
        raise SettingsError([FieldError(path="public_url", value=url, expected=(
            f"this service's public base URL (in the file or {PUBLIC_URL_VARIABLE})"))],
            source="CDS Hooks clients file")
    entries = data.get("client", [])
    clients: dict[str, CdsClient] = {}
    ttl = data.get("jwks_cache_seconds", 3600)
    ttl = float(ttl) if isinstance(ttl, int) and not isinstance(ttl, bool) and ttl > 0 else 3600.0
    for index, entry in enumerate(entries if isinstance(entries, list) else [entries]):
        client = _client(entry, index, path.parent, jwks_ttl=ttl)
        if client.iss in clients:
            raise SettingsError([FieldError(path=f"client[{index}].iss", value=client.iss,
                                            expected="an iss registered once")],
                                source="CDS Hooks clients file")
        clients[client.iss] = client
    origins = data.get("cors_origins", ["*"])
    if not isinstance(origins, list) or not all(isinstance(o, str) and o for o in origins):
        raise SettingsError([FieldError(path="cors_origins", value=origins,
                                        expected='a list of origins, or ["*"]')],
                            source="CDS Hooks clients file")
    options = {name: data[name] for name in _OPTIONS if name in data}
    try:
        return CdsHooksConfig(public_url=url, clients=clients, cors_origins=tuple(origins), **options)
    except TypeError as exc:
        raise SettingsError([FieldError(path=str(path), value=None, expected=str(exc))],
                            source="CDS Hooks clients file") from None


def config_from_environment(environ: Mapping[str, str] | None = None) -> CdsHooksConfig | None:
    """The configuration named by ``MYOSITIS_CDS_CDS_CLIENTS`` (None when it is not set)."""
    env = os.environ if environ is None else environ
    path = env.get(CLIENTS_VARIABLE, "").strip()
    if not path:
        return None
    return load_config(Path(path), public_url=env.get(PUBLIC_URL_VARIABLE, "").strip() or None)
