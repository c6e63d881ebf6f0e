"""``myositis-cds cds-feedback``: what the EHRs' users did with the CDS Hooks cards, per rule.

For each rule: cards issued in the period (the card ledger keeps 30 days), accepted (with how many
suggested orders), overridden and the override reasons given. No patient data is stored for these
counts, and none is printed: a site reviews which alerts its clinicians find wrong or unhelpful.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

from myositis_cds import bootstrap
from myositis_cds.entrypoints.cli.common import parse_date, to_json
from myositis_cds.errors import UsageError

__all__ = ["add_cds_parser", "cmd_cds_feedback"]

FEEDBACK_FORMAT = "myositis-cds/cds-feedback@1"


def add_cds_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = sub.add_parser("cds-feedback", help="CDS Hooks feedback per rule: cards issued, "
                             "accepted, overridden and why (no patient data)")
    command.add_argument("--since", help="first day counted, YYYY-MM-DD (default: 30 days ago)")
    command.add_argument("--format", choices=("text", "json"), default="text")
    command.add_argument("--database-url", help="SQLAlchemy URL (default: "
                         "MYOSITIS_CDS_DATABASE_URL or ./var/myositis-cds.sqlite3)")
    command.set_defaults(handler=cmd_cds_feedback)


def cmd_cds_feedback(args: argparse.Namespace) -> int:
    today = bootstrap.current_date()
    since = parse_date(args.since, "--since") if args.since else today - dt.timedelta(days=30)
    if since > today:
        msg = f"--since: got {since}; expected a date on or before today ({today})"
        raise UsageError(msg)
    start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC).timestamp()
    # SQLAlchemy loads here, not with the CLI: every other command would pay for it (issue 15).
    from myositis_cds.adapters.storage.cds_hooks import (  # noqa: PLC0415
        SqlCardLedger,
        SqlCdsFeedback,
    )

    database = bootstrap.make_unit_of_work(args.database_url or bootstrap.database_url())
    try:
        issued = SqlCardLedger(database.engine).issued_by_rule(since=start)
        rules = SqlCdsFeedback(database.engine).by_rule(since=start, issued=issued)
    finally:
        database.dispose()
    if args.format == "json":
        sys.stdout.write(to_json({"format": FEEDBACK_FORMAT, "since": since.isoformat(),
                                  "generated_at": int(time.time()),
                                  "rules": [r.to_dict() for r in rules]}, indent=True) + "\n")
        return 0
    sys.stdout.write(f"CDS Hooks feedback since {since} (cards issued: the last 30 days at "
                     "most)\n")
    sys.stdout.write(f"  {'rule':<34} {'issued':>7} {'accepted':>9} {'orders':>7} "
                     f"{'overridden':>11}  reasons\n")
    for rule in rules:
        reasons = ", ".join(f"{code} {count}" for code, count in rule.reasons) or "-"
        sys.stdout.write(f"  {rule.rule:<34} {rule.issued:>7} {rule.accepted:>9} "
                         f"{rule.suggestions_accepted:>7} {rule.overridden:>11}  {reasons}\n")
    if not rules:
        sys.stdout.write("  (no card issued and no feedback received in the period)\n")
    return 0
