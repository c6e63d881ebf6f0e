"""Composition root: picks the knowledge pack, the settings, the record adapter, the database and
the password hasher for a run.

Entrypoints reach adapters and the engine's configuration only through here (an import-linter
contract forbids them to import ``myositis_cds.engine`` or ``myositis_cds.adapters``):
:class:`EngineParams` is the opaque configuration they pass to the use cases.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from myositis_cds.adapters import json_edge
from myositis_cds.adapters import site as site_config
from myositis_cds.adapters.assessment_schema import assessment_json_schema
from myositis_cds.adapters.fhir.codes import FhirCodes, load_codes
from myositis_cds.adapters.fhir.importing.importer import patient_document
from myositis_cds.adapters.fhir.importing.validation import ValidatedImport, validate_import
from myositis_cds.adapters.fhir.mapping import FhirMapping
from myositis_cds.adapters.record_file import iter_raw_records
from myositis_cds.adapters.record_json import parse_record, record_json_schema
from myositis_cds.adapters.site import SiteConfig
from myositis_cds.adapters.timeline_schema import timeline_json_schema
from myositis_cds.domain.record import PatientRecord
from myositis_cds.engine import EngineParams
from myositis_cds.errors import FieldError, SettingsError, UsageError
from myositis_cds.knowledge import load_pack, load_settings_file, resolve_settings
from myositis_cds.knowledge.plausibility import Plausibility, default_plausibility
from myositis_cds.services import RecordParser
from myositis_cds.services.ports import PasswordHasher

# Storage (SQLAlchemy, Alembic) and password hashing (argon2) are imported by the
# functions that use them, so that a command that needs none of them (assess, timeline...) does
# not load them: issue 15 measured `assess` of one record at 5.9 s and 215 MiB, mostly imports.
if TYPE_CHECKING:
    from myositis_cds.adapters.storage import Database

__all__ = [
    "DATABASE_URL_VARIABLE",
    "DEFAULT_SQLITE_PATH",
    "JSON_SCHEMAS",
    "SETTINGS_FILE_MAX_BYTES",
    "EngineParams",
    "FhirCodes",
    "JsonRefusedError",
    "SiteConfig",
    "audit_owner_warning",
    "check_ready",
    "check_settings_file",
    "codes_only_site",
    "current_date",
    "database_url",
    "decode_json",
    "decode_json_object",
    "default_params",
    "display_url",
    "end_web_sessions",
    "fhir_record_import",
    "fhir_record_importer",
    "grant_app_role",
    "iter_documents",
    "json_kind",
    "json_schema",
    "load_site",
    "make_live_parser",
    "make_params",
    "make_parser",
    "make_unit_of_work",
    "password_hasher",
    "plausibility_limits",
    "site_from_environment",
    "upgrade",
]

DATABASE_URL_VARIABLE = "MYOSITIS_CDS_DATABASE_URL"
DEFAULT_SQLITE_PATH = Path("var") / "myositis-cds.sqlite3"
"""Relative to the working directory."""


@cache
def default_params() -> EngineParams:
    """The embedded pack with its default settings (loaded and linted once per process)."""
    pack = load_pack()
    return EngineParams.build(pack, resolve_settings(pack))


def make_params(*, settings_file: Path | None = None, pack_file: Path | None = None,
                overrides: Mapping[str, object] | None = None) -> EngineParams:
    if settings_file is None and pack_file is None and not overrides:
        return default_params()
    pack = load_pack(pack_file) if pack_file else default_params().pack
    if settings_file is not None:
        check_settings_file(settings_file)
        settings = load_settings_file(pack, settings_file)
    else:
        settings = resolve_settings(pack, overrides)
    return EngineParams.build(pack, settings)


SETTINGS_FILE_MAX_BYTES = 1024 * 1024


def check_settings_file(path: Path) -> None:
    """The settings file's bytes at the edge, before the pack's reader parses them: at most
    1 MiB of strict UTF-8, JSON within the JSON edge's nesting limit, TOML parsable without
    exhausting the stack. :class:`SettingsError` naming the file otherwise."""
    def refuse(found: object, expected: str) -> SettingsError:
        return SettingsError([FieldError(path="$", value=found, expected=expected)], source=str(path))

    try:
        data = path.read_bytes()[:SETTINGS_FILE_MAX_BYTES + 1]
    except OSError as exc:
        raise refuse(str(path), f"a readable file ({exc.strerror})") from None
    if len(data) > SETTINGS_FILE_MAX_BYTES:
        raise refuse(json_edge.Found("a larger file"), f"at most {SETTINGS_FILE_MAX_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(json_edge.Found(f"a byte that is not UTF-8 at offset {exc.start}"),
                     "a UTF-8 text file") from None
    if path.suffix.lower() != ".toml":
        try:
            json_edge.loads(data)
        except json_edge.JsonRefusedError as exc:
            raise refuse(json_edge.Found(exc.msg), exc.expected) from None
        return
    try:
        tomllib.loads(text)
    except RecursionError:
        raise refuse(json_edge.Found("arrays or tables nested too deep"),
                     "a flat table of setting names") from None
    except tomllib.TOMLDecodeError:
        return  # the reader names the TOML error


JsonRefusedError = json_edge.JsonRefusedError
"""JSON refused at the edge (too large, too deep, not strict UTF-8, not JSON): ``msg`` is what was
found, ``expected`` what would have been accepted."""


def decode_json(data: bytes, *, max_bytes: int, refuse_nul: bool = False) -> Any:
    """Untrusted JSON bytes through the JSON edge (:mod:`myositis_cds.adapters.json_edge`)."""
    return json_edge.loads(data, max_bytes=max_bytes, refuse_nul=refuse_nul)


def json_kind(value: object) -> object:
    """A decoded JSON value's kind as error messages show it (``a string``, ``an array``...)."""
    return json_edge.kind_of(value)


def decode_json_object(data: bytes, *, source: str, max_bytes: int,
                       expected: str) -> dict[str, Any]:
    """A JSON object (a record), or a :class:`RecordValidationError` naming ``source``."""
    return json_edge.load_object(data, source=source, max_bytes=max_bytes, expected=expected)


def make_parser(today: dt.date) -> RecordParser:
    def parse(data: object, *, prefix: str, source: str) -> PatientRecord:
        return parse_record(data, today=today, prefix=prefix, source=source)

    return parse


def iter_documents(path: Path) -> Iterator[tuple[str, object]]:
    return ((raw.path, raw.data) for raw in iter_raw_records(path))


JSON_SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "patient-record": record_json_schema, "assessment": assessment_json_schema,
    "timeline": timeline_json_schema}
"""The JSON Schemas of the input and the outputs, by name."""


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema ``name`` (a key of :data:`JSON_SCHEMAS`)."""
    return JSON_SCHEMAS[name]()


_PINNED_RANGE = (dt.date(1900, 1, 1), dt.date(2999, 12, 31))
"""A pinned 'today' far from the ends of the calendar (the rules add years to dates)."""


def current_date() -> dt.date:
    """Today's date; ``MYOSITIS_CDS_TODAY`` (ISO) pins it for reproducible runs and tests."""
    pinned = os.environ.get("MYOSITIS_CDS_TODAY")
    if pinned:
        try:
            day = dt.date.fromisoformat(pinned)
        except ValueError:
            day = None
        if day is None or not _PINNED_RANGE[0] <= day <= _PINNED_RANGE[1]:
            msg = (f"MYOSITIS_CDS_TODAY: got {pinned!r}; expected an ISO 8601 date YYYY-MM-DD from "
                   f"{_PINNED_RANGE[0]} to {_PINNED_RANGE[1]}")
            raise UsageError(msg)
        return day
    return dt.date.today()  # noqa: DTZ011 - the clinic's local calendar date is meant


def plausibility_limits() -> Plausibility:
    """The plausibility ranges the live parser checks (the embedded pack's setting
    ``plausibility``); the forms show them as hints before submit."""
    return default_plausibility()


def make_live_parser() -> RecordParser:
    """The record validator for stored patients: 'today' is read at each call (long-running app)."""
    limits = plausibility_limits()

    def parse(data: object, *, prefix: str, source: str) -> PatientRecord:
        return parse_record(data, today=current_date(), prefix=prefix, source=source,
                            limits=limits)

    return parse


def database_url() -> str:
    """``MYOSITIS_CDS_DATABASE_URL``, or the SQLite file ``./var/myositis-cds.sqlite3``."""
    configured = os.environ.get(DATABASE_URL_VARIABLE, "").strip()
    if configured:
        return configured
    path = DEFAULT_SQLITE_PATH.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def display_url(url: str) -> str:
    """``url`` with its password hidden, for messages."""
    from myositis_cds.adapters.storage import display_url as shown  # noqa: PLC0415 - lazy (above)

    return shown(url)


def make_unit_of_work(url: str | None = None) -> Database:
    """A unit-of-work factory on the database at ``url`` (default :func:`database_url`).

    Call it for each transaction; ``dispose()`` it when done (it owns a connection pool).
    """
    from myositis_cds.adapters.storage import Database  # noqa: PLC0415 - lazy (above)

    return Database(url or database_url())


def fhir_record_import(resources: Sequence[Mapping[str, Any]], today: dt.date) -> ValidatedImport:
    """One patient's FHIR resources → its validated ``patient-record@1`` with the built-in code
    tables (the CDS hook's port without a site configuration)."""
    return validate_import(patient_document(resources), today=today)


def fhir_record_importer(site: SiteConfig) -> Callable[[Sequence[Mapping[str, Any]], dt.date],
                                                      ValidatedImport]:
    """The CDS hook's and the SMART launch's import port with the site's configuration."""
    def import_record(resources: Sequence[Mapping[str, Any]], today: dt.date) -> ValidatedImport:
        return validate_import(patient_document(resources, mapping=site.mapping), today=today)

    return import_record


def load_site(path: Path | None) -> SiteConfig:
    """The site configuration in ``path`` (TOML, ``myositis-cds/site@1``; docs/site.md)."""
    return site_config.load_site(path)


def site_from_environment(environ: Mapping[str, str] | None = None) -> SiteConfig:
    """The site configuration named by ``MYOSITIS_CDS_SITE`` in ``environ`` (default: the
    process environment); the built-in defaults without it."""
    return site_config.site_from_environment(environ)


def codes_only_site(path: Path) -> SiteConfig:
    """A site configuration made of a code table alone (``--codes``, myositis-cds/fhir-codes@1)."""
    return SiteConfig(mapping=FhirMapping(codes=load_codes(path)), source=str(path))


def check_ready(database: Database) -> None:
    """Raise :class:`~myositis_cds.errors.DatabaseNotReadyError` unless the database is migrated."""
    from myositis_cds.adapters.storage import check_database  # noqa: PLC0415 - lazy (above)

    check_database(database.engine)


def upgrade(url: str | None = None) -> str:
    """Apply every migration to the database; returns the revision it is now at."""
    from myositis_cds.adapters.storage import upgrade_database  # noqa: PLC0415 - lazy (above)

    return upgrade_database(url or database_url())


def grant_app_role(url: str, role: str) -> list[str]:
    """PostgreSQL: grant the server's role what it needs and no more (see
    :mod:`myositis_cds.adapters.storage.roles`)."""
    from myositis_cds.adapters.storage.roles import grant_application_role  # noqa: PLC0415 - lazy

    return grant_application_role(url, role)


def audit_owner_warning(url: str) -> str | None:
    """A warning when the role of ``url`` owns the audit log (PostgreSQL), else None."""
    from myositis_cds.adapters.storage import make_engine  # noqa: PLC0415 - lazy (above)
    from myositis_cds.adapters.storage.roles import audit_owner_problem  # noqa: PLC0415

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return audit_owner_problem(connection)
    finally:
        engine.dispose()


def end_web_sessions(username: str, url: str | None = None) -> None:
    """End every web session of ``username`` (after a password reset at the server's shell)."""
    from myositis_cds.adapters.storage.web_sessions import SqlSessionStore  # noqa: PLC0415

    database = make_unit_of_work(url)
    try:
        SqlSessionStore(database.engine, lifetime=1, idle=1,
                        max_sessions=1).end_user_sessions(username)
    finally:
        database.dispose()


def password_hasher() -> PasswordHasher:
    from myositis_cds.adapters.passwords import Argon2PasswordHasher  # noqa: PLC0415 - lazy (above)

    return Argon2PasswordHasher()
