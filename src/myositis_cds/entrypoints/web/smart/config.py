"""Configuration of the SMART App Launch: this app's public URL and the EHRs it may be launched from.

A TOML file named by ``MYOSITIS_CDS_SMART``::

    public_url = "https://cds.example.org"      # the redirect URI is {public_url}/smart/callback
    session_minutes = 60                         # optional: how long a launched session lasts

    [[ehr]]
    iss = "https://ehr.example.org/fhir"         # the EHR's FHIR base URL (the launch's iss)
    client_id = "myositis-cds"                   # as registered with the EHR's authorization server
    frame_origins = ["https://ehr-ui.example.org"]   # origins allowed to show the app in a frame
    # client_secret = "..."                      # optional: a confidential client (Basic auth)
    # scope = "launch patient/*.read"            # optional: the EHR launch's scopes (see below)

The scopes asked by default: ``launch patient/*.read`` (EHR launch) and ``launch/patient
patient/*.read`` (standalone launch); the app reads only the patient in context. An ``iss`` not in
this file is refused: the app never sends a user to an authorization server it does not know.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from myositis_cds.errors import FieldError, SettingsError

__all__ = ["EHR_SCOPE", "SMART_VARIABLE", "STANDALONE_SCOPE", "SmartConfig", "SmartEhr",
           "load_smart_config", "smart_config_from_environment"]

SMART_VARIABLE: Final = "MYOSITIS_CDS_SMART"
EHR_SCOPE: Final = "launch patient/*.read"
STANDALONE_SCOPE: Final = "launch/patient patient/*.read"
_SOURCE: Final = "SMART launch file"


def _is_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


def _is_origin(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and parts.path in ("", "/") \
        and not parts.query and not parts.fragment


@dataclass(frozen=True, slots=True, kw_only=True)
class SmartEhr:
    """One EHR the app may be launched from."""

    iss: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    frame_origins: tuple[str, ...] = ()
    scope: str = EHR_SCOPE
    standalone_scope: str = STANDALONE_SCOPE


@dataclass(frozen=True, slots=True, kw_only=True)
class SmartConfig:
    public_url: str
    ehrs: Mapping[str, SmartEhr]
    session_minutes: int = 60
    timeout: float = 5.0
    """Seconds per request to an EHR (discovery, token, FHIR)."""

    @property
    def redirect_uri(self) -> str:
        return self.public_url.rstrip("/") + "/smart/callback"

    @property
    def frame_origins(self) -> tuple[str, ...]:
        """Every EHR's frame origins: the only pages that may frame the app's SMART pages."""
        return tuple(sorted({o for ehr in self.ehrs.values() for o in ehr.frame_origins}))


def _ehr(entry: object, index: int) -> tuple[SmartEhr | None, list[FieldError]]:
    where = f"ehr[{index}]"
    if not isinstance(entry, dict):
        return None, [FieldError(path=where, value=entry, expected="a table with iss, client_id")]
    problems = [FieldError(path=f"{where}.{key}", value=key, expected="one of iss, client_id, "
                           "client_secret, frame_origins, scope, standalone_scope")
                for key in sorted(set(entry) - {"iss", "client_id", "client_secret",
                                                "frame_origins", "scope", "standalone_scope"})]
    iss, client_id = entry.get("iss"), entry.get("client_id")
    if not _is_url(iss):
        problems.append(FieldError(path=f"{where}.iss", value=iss,
                                   expected="the EHR's FHIR base URL (http(s))"))
    if not isinstance(client_id, str) or not client_id.strip():
        problems.append(FieldError(path=f"{where}.client_id", value=client_id,
                                   expected="the client_id registered with the EHR"))
    origins = entry.get("frame_origins", [])
    if not isinstance(origins, list) or not all(_is_origin(o) for o in origins):
        problems.append(FieldError(path=f"{where}.frame_origins", value=origins,
                                   expected='a list of origins, e.g. ["https://ehr.example.org"]'))
    for name in ("client_secret", "scope", "standalone_scope"):
        if name in entry and (not isinstance(entry[name], str) or not entry[name].strip()):
            problems.append(FieldError(path=f"{where}.{name}", value="<given>",
                                       expected="a non-empty string"))
    if problems:
        return None, problems
    return SmartEhr(iss=str(iss).rstrip("/"), client_id=str(client_id),
                    client_secret=entry.get("client_secret"),
                    frame_origins=tuple(o.rstrip("/") for o in origins),
                    scope=entry.get("scope", EHR_SCOPE),
                    standalone_scope=entry.get("standalone_scope", STANDALONE_SCOPE)), []


def load_smart_config(path: Path, *, public_url: str | None = None) -> SmartConfig:
    """The configuration in ``path``; every problem reported at once."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError([FieldError(path=str(path), value=None,
                                        expected=f"a readable TOML file ({exc})")],
                            source=_SOURCE) from None
    problems = [FieldError(path=key, value=key, expected="one of public_url, session_minutes, ehr")
                for key in sorted(set(data) - {"public_url", "session_minutes", "ehr"})]
    url = public_url or data.get("public_url")
    if not _is_url(url):
        problems.append(FieldError(path="public_url", value=url,
                                   expected="this app's public base URL (http(s))"))
    minutes = data.get("session_minutes", 60)
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 480:
        problems.append(FieldError(path="session_minutes", value=minutes,
                                   expected="whole minutes from 1 to 480"))
    ehrs: dict[str, SmartEhr] = {}
    entries = data.get("ehr", [])
    for index, entry in enumerate(entries if isinstance(entries, list) else [entries]):
        ehr, found = _ehr(entry, index)
        problems += found
        if ehr is not None and ehr.iss in ehrs:
            problems.append(FieldError(path=f"ehr[{index}].iss", value=ehr.iss,
                                       expected="an iss registered once"))
        elif ehr is not None:
            ehrs[ehr.iss] = ehr
    if not ehrs and not problems:
        problems.append(FieldError(path="ehr", value=[], expected="at least one [[ehr]] table"))
    if problems:
        raise SettingsError(problems, source=_SOURCE)
    return SmartConfig(public_url=str(url).rstrip("/"), ehrs=ehrs, session_minutes=int(minutes))


def smart_config_from_environment(environ: Mapping[str, str] | None = None) -> SmartConfig | None:
    """The configuration named by ``MYOSITIS_CDS_SMART`` (None: no SMART launch)."""
    env = os.environ if environ is None else environ
    path = env.get(SMART_VARIABLE, "").strip()
    if not path:
        return None
    return load_smart_config(Path(path),
                             public_url=env.get("MYOSITIS_CDS_PUBLIC_URL", "").strip() or None)
