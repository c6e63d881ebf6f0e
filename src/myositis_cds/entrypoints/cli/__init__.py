"""The ``myositis-cds`` command line.

Exit codes: 0 success; 2 bad input or usage (each error names the JSON path, the value and what was
expected; no traceback), an unreachable database or an unreadable file; 1 an unexpected internal
error (one line, no traceback unless ``MYOSITIS_CDS_DEBUG=1``); 3 ``audit verify`` found the audit
log altered. Nothing is written for a bad record: a
report file is written to a temporary name and moved into place only when complete.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from myositis_cds.entrypoints.cli.admin import (
    cmd_audit_verify,
    cmd_db_upgrade,
    cmd_users_add,
    cmd_users_disable,
    cmd_users_enable,
    cmd_users_list,
    cmd_users_reset_password,
    cmd_users_set_role,
    cmd_users_unlock,
    cmd_views_render,
)
from myositis_cds.entrypoints.cli.assessing import (
    cmd_assess,
    cmd_demo,
    cmd_example,
    cmd_pack,
    cmd_schema,
)
from myositis_cds.entrypoints.cli.cds import add_cds_parser
from myositis_cds.entrypoints.cli.cohort import add_cohort_parser
from myositis_cds.entrypoints.cli.common import FORMATS
from myositis_cds.entrypoints.cli.fhir import add_fhir_parser
from myositis_cds.entrypoints.cli.fhir_export import add_fhir_export_parser
from myositis_cds.entrypoints.cli.monitoring import TIMELINE_FORMATS, cmd_plot, cmd_timeline
from myositis_cds.entrypoints.cli.serve import add_serve_parser
from myositis_cds.entrypoints.cli.titers import cmd_titers
from myositis_cds.entrypoints.cli.worklist import add_worklist_parser
from myositis_cds.errors import (
    AlreadyExistsError,
    DatabaseNotReadyError,
    KnowledgePackError,
    MyositisCdsError,
    NotFoundError,
    PermissionDeniedError,
    RecordValidationError,
    SettingsError,
    UsageError,
)
from myositis_cds.services.ports import ROLES

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="myositis-cds",
        description="Clinical decision support for dermatomyositis with anti-Mi-2 antibodies.")
    sub = parser.add_subparsers(dest="command", required=True)
    _assessing_parsers(sub)
    _monitoring_parsers(sub)
    _admin_parsers(sub)
    add_serve_parser(sub)
    add_worklist_parser(sub)
    add_cohort_parser(sub)
    add_fhir_export_parser(sub)
    add_fhir_parser(sub)
    add_cds_parser(sub)
    return parser


def _assessing_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    assess = sub.add_parser("assess", help="assess a patient-record@1 file (or a batch)")
    assess.add_argument("file")
    assess.add_argument("--as-of", help="assessment date YYYY-MM-DD (default: today)")
    assess.add_argument("--format", choices=FORMATS, default="text")
    assess.add_argument("--settings", help="site settings file (TOML or JSON)")
    assess.add_argument("--out", help="write the report to this file instead of stdout")
    assess.set_defaults(handler=cmd_assess)
    schema = sub.add_parser("schema", help="print a JSON Schema")
    schema.add_argument("name", choices=("patient-record", "assessment", "timeline"))
    schema.set_defaults(handler=cmd_schema)
    example = sub.add_parser("example", help="print an example patient record")
    example.add_argument("name", nargs="?")
    example.add_argument("--list", action="store_true", help="list the examples")
    example.set_defaults(handler=cmd_example)
    demo = sub.add_parser("demo", help="assess every example; write HTML and JSON reports")
    demo.add_argument("--out", default="out")
    demo.add_argument("--as-of")
    demo.add_argument("--settings")
    demo.set_defaults(handler=cmd_demo)
    pack = sub.add_parser("pack", help="show the knowledge pack's rules and settings")
    pack.add_argument("--settings")
    pack.set_defaults(handler=cmd_pack)


def _monitoring_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    timeline = sub.add_parser("timeline", help="every visit's TIS against the baseline, with "
                              "treatments (a patient-record@1 file or a batch)")
    timeline.add_argument("file")
    timeline.add_argument("--as-of", help="assessment date YYYY-MM-DD (default: today)")
    timeline.add_argument("--format", choices=TIMELINE_FORMATS, default="text")
    timeline.add_argument("--settings", help="site settings file (TOML or JSON)")
    timeline.add_argument("--out", help="write the report to this file instead of stdout")
    timeline.set_defaults(handler=cmd_timeline)
    plot = sub.add_parser("plot", help="write the trend plots (CK ×ULN, MMT-8, anti-Mi-2 titer) "
                          "of a patient-record@1 file (or a batch)")
    plot.add_argument("file")
    plot.add_argument("--out", required=True, help="directory for <patient>-ck.svg, -mmt8, -titer")
    plot.add_argument("--as-of", help="assessment date YYYY-MM-DD (default: today)")
    plot.add_argument("--format", choices=("svg", "png", "both"), default="svg")
    plot.add_argument("--layout", choices=("wide", "narrow"), default="wide",
                      help="wide: about 920 px, for a page or a print (default); narrow: a phone")
    plot.add_argument("--settings", help="site settings file (TOML or JSON)")
    plot.set_defaults(handler=cmd_plot)
    titers = sub.add_parser("titers", help="anti-Mi-2 titer vs CK and MMT-8: Spearman per patient, "
                            "mixed model across patients (a record file, batch or folder)")
    titers.add_argument("path")
    titers.add_argument("--as-of", help="assessment date YYYY-MM-DD (default: today)")
    titers.add_argument("--format", choices=("text", "json"), default="text")
    titers.add_argument("--settings", help="site settings file (TOML or JSON)")
    titers.add_argument("--out", help="write the result to this file instead of stdout")
    titers.set_defaults(handler=cmd_titers)


def _admin_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="accounts of the clinic application (database: "
                           "MYOSITIS_CDS_DATABASE_URL or ./var/myositis-cds.sqlite3)")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of stdin")
    add.set_defaults(handler=cmd_users_add)
    users_sub.add_parser("list", help="username, role and whether active").set_defaults(
        handler=cmd_users_list)
    disable = users_sub.add_parser("disable", help="disable a user: it can no longer sign in")
    disable.add_argument("username")
    disable.set_defaults(handler=cmd_users_disable)
    enable = users_sub.add_parser("enable", help="enable a disabled user again")
    enable.add_argument("username")
    enable.set_defaults(handler=cmd_users_enable)
    role = users_sub.add_parser("set-role", help="change a user's role")
    role.add_argument("username")
    role.add_argument("role", choices=ROLES)
    role.set_defaults(handler=cmd_users_set_role)
    reset = users_sub.add_parser("reset-password", help="print a new temporary password for a "
                                 "user (to be replaced at their next sign-in); ends their sessions")
    reset.add_argument("username")
    reset.set_defaults(handler=cmd_users_reset_password)
    unlock = users_sub.add_parser("unlock", help="end a user's sign-in delay after failed "
                                  "attempts (audited)")
    unlock.add_argument("username")
    unlock.set_defaults(handler=cmd_users_unlock)
    db = sub.add_parser("db", help="the application database")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply the migrations (creates the tables)")
    upgrade.add_argument("--app-role", metavar="ROLE",
                         help="PostgreSQL: then grant the server's role what it needs (only "
                              "SELECT and INSERT on the audit log); run as the tables' owner")
    upgrade.set_defaults(handler=cmd_db_upgrade)
    audit_log = sub.add_parser("audit", help="the clinic application's audit log")
    audit_sub = audit_log.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="recompute the hash chain: exit 0 if intact, 3 if "
                                  "any event was changed or removed")
    verify.add_argument("--expect", metavar="ID:HASH",
                        help="an earlier head (printed by a previous verify) that must still be "
                             "in the chain unchanged: catches events removed from the end")
    verify.set_defaults(handler=cmd_audit_verify)
    views = sub.add_parser("views", help="the clinic application's rendered patient pages")
    views_sub = views.add_subparsers(dest="views_command", required=True)
    render = views_sub.add_parser("render", help="render every stored patient's page for a date "
                                  "(default today), e.g. nightly; each read is audited")
    render.add_argument("--as-of", help="assessment date YYYY-MM-DD (default: today)")
    render.set_defaults(handler=cmd_views_render)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except RecordValidationError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except (SettingsError, KnowledgePackError, UsageError, AlreadyExistsError, NotFoundError,
            PermissionDeniedError, DatabaseNotReadyError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except MyositisCdsError as exc:  # pragma: no cover - every subclass is handled above
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    except OSError as exc:  # a file that cannot be read or written, a full disk
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"error: {where}{exc.strerror or type(exc).__name__}; nothing was "
                         "written\n")
        return 2
    except Exception as exc:
        return _internal_error(exc)
    return code


def _internal_error(exc: Exception) -> int:
    """A bug: one line without the exception's message (it could hold patient data); the
    traceback only with ``MYOSITIS_CDS_DEBUG=1``."""
    if os.environ.get("MYOSITIS_CDS_DEBUG") == "1":
        raise exc
    sys.stderr.write(f"error: internal error ({type(exc).__name__}); nothing was written. Please "
                     "report it; MYOSITIS_CDS_DEBUG=1 shows the details\n")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
