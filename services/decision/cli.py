"""Decision-service commands beyond the common ones."""
from __future__ import annotations

import argparse
import json

from services.decision.app import make_runtime


def seed(argv: list[str]) -> int:
    """Provision the starter criteria and, with --dev-users, the development accounts."""
    from services.decision.criteria.seed import seed_starter_criteria
    from services.decision.users.service import provision_dev_users

    parser = argparse.ArgumentParser(prog="python -m services.decision seed")
    parser.add_argument("--dev-users", action="store_true")
    parser.add_argument("--backdate-criteria", action="store_true",
                        help="development data: date the starter criteria back so they apply at once "
                             "(the public page says the date is not real)")
    args = parser.parse_args(argv)
    runtime = make_runtime()
    seed_starter_criteria(runtime.db, backdate=args.backdate_criteria)
    if args.dev_users:
        provision_dev_users(runtime.db)
    print("decision: criteria seeded" + (", development users provisioned" if args.dev_users else ""))
    return 0


def verify(argv: list[str]) -> int:
    """Verify the audit log's hash chain; exit 1 with the first broken link if any."""
    from shared.clock import parse_instant
    from services.decision.audit.chain import verify_chain

    parser = argparse.ArgumentParser(prog="python -m services.decision verify")
    parser.add_argument("--from", dest="start")
    parser.add_argument("--to", dest="end")
    parser.add_argument("--head", help="SEQ:HASH of a head published earlier (topic modq.audit.heads, or the "
                                       "X-Modq-Audit-Head of an export): names a truncated or rewritten log")
    args = parser.parse_args(argv)
    head = None
    if args.head:
        seq, _, digest = args.head.partition(":")
        if not seq.isascii() or not seq.isdigit() or len(digest) != 64:
            parser.error("--head must be SEQ:HASH (64 hex digits)")
        head = (int(seq), digest.lower())
    runtime = make_runtime()
    with runtime.db.sessions() as session:
        result = verify_chain(session, parse_instant(args.start) if args.start else None,
                              parse_instant(args.end) if args.end else None, published_head=head)
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["intact"] else 1


def create_user(argv: list[str]) -> int:
    from services.decision.users.roles import ROLES
    from services.decision.users.service import create_user as _create

    parser = argparse.ArgumentParser(prog="python -m services.decision create-user")
    parser.add_argument("email")
    parser.add_argument("--role", choices=ROLES, required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args(argv)
    runtime = make_runtime()
    with runtime.db.unit_of_work() as uow:
        _create(uow.session, args.email, args.password, args.role)
        uow.commit()
    print(f"created {args.email} ({args.role})")
    return 0


def issue_token(argv: list[str]) -> int:
    """Issue a bearer token for an API client (printed once; only its SHA-256 is stored)."""
    import datetime as dt

    import sqlalchemy as sa

    from shared.db import utcnow
    from services.decision.users.models import User
    from services.decision.users.service import issue_token as _issue

    parser = argparse.ArgumentParser(prog="python -m services.decision issue-token")
    parser.add_argument("email")
    parser.add_argument("--label", default="")
    parser.add_argument("--days", type=int, default=90, help="valid for this many days (0: no expiry)")
    args = parser.parse_args(argv)
    runtime = make_runtime()
    with runtime.db.sessions() as session:
        user = session.scalar(sa.select(User).where(User.email == args.email.strip().lower()))
    if user is None:
        parser.error(f"no user {args.email}")
    expires = utcnow() + dt.timedelta(days=args.days) if args.days > 0 else None
    print(_issue(runtime.db, user.id, args.label, expires_at=expires))
    return 0


def retention(argv: list[str]) -> int:
    """Remove personal data past its retention period now (the worker does it hourly)."""
    from services.decision.cases.retention import apply_retention

    argparse.ArgumentParser(prog="python -m services.decision retention").parse_args(argv)
    print(json.dumps(apply_retention(make_runtime().db)))
    return 0


def bench(argv: list[str]) -> int:
    """Time the queue API and page over 100,000 open cases in a fresh PostgreSQL database."""
    from services.decision.bench import run

    return run(argv)


def transparency(argv: list[str]) -> int:
    """Write the §28 transparency report (default: the year a report is due for; until 31 May, the year just ended)."""
    import sys

    from shared.db import utcnow
    from services.decision.audit import notice_figures, periods, render
    from services.decision.audit import transparency as report_module

    parser = argparse.ArgumentParser(prog="python -m services.decision transparency")
    parser.add_argument("--from", dest="start", help="YYYY-MM-DD (JST) or an ISO instant")
    parser.add_argument("--to", dest="end", help="YYYY-MM-DD (JST, inclusive) or an ISO instant (exclusive)")
    parser.add_argument("--format", choices=("json", "csv", "html"), default="json")
    parser.add_argument("--bom", action="store_true", help="CSV: start with a UTF-8 BOM (Excel)")
    parser.add_argument("--output", help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    try:
        start, end = periods.resolve(args.start, args.end, utcnow())
    except periods.BadPeriod as exc:
        parser.error(str(exc))
    with make_runtime().db.sessions() as session:
        report = report_module.generate(session, start, end, notice_stats=notice_figures.fetch(start, end))
    text = {"json": lambda: json.dumps(report, ensure_ascii=False, indent=1) + "\n",
            "csv": lambda: render.csv_text(report, args.bom), "html": lambda: render.html(report)}[args.format]()
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


def specialists(argv: list[str]) -> int:
    """The 侵害情報調査専門員 roster (§24): list, appoint EMAIL, end EMAIL (--by names who acts)."""
    import sqlalchemy as sa

    from services.decision.errors import DecisionRefused
    from services.decision.users import specialists
    from services.decision.users.models import User

    parser = argparse.ArgumentParser(prog="python -m services.decision specialists")
    parser.add_argument("action", choices=("list", "appoint", "end"))
    parser.add_argument("email", nargs="?")
    parser.add_argument("--by", default="cli")
    args = parser.parse_args(argv)
    with make_runtime().db.unit_of_work() as uow:
        if args.action == "list":
            print(json.dumps([u.email for u in specialists.roster(uow.session)], ensure_ascii=False))
            return 0
        user = uow.session.scalar(sa.select(User).where(User.email == (args.email or "").lower()))
        if user is None:
            parser.error("unknown user")
        try:
            (specialists.appoint_specialist if args.action == "appoint" else specialists.end_appointment)(uow.session, user, args.by)
        except DecisionRefused as exc:
            parser.error(exc.message)
        uow.commit()
    print(f"{args.action}: {args.email}")
    return 0


def legal_hold(argv: list[str]) -> int:
    """Legal holds on a case (§15, §16; kept past the retention periods): list CASE,
    place CASE --basis B [--reference R], lift HOLD --reason R; --by names who acts."""
    from services.decision.errors import DecisionRefused
    from services.decision.cases.retention import HOLD_BASES, active_holds, lift_hold, place_hold

    parser = argparse.ArgumentParser(prog="python -m services.decision legal-hold")
    parser.add_argument("action", choices=("list", "place", "lift"))
    parser.add_argument("target", help="case id (list, place) or hold id (lift)")
    parser.add_argument("--basis", choices=sorted(HOLD_BASES))
    parser.add_argument("--reference", help="the order or request it follows (court, case number)")
    parser.add_argument("--reason", help="why a hold is lifted")
    parser.add_argument("--by", required=True, help="who places or lifts it (recorded)")
    args = parser.parse_args(argv)
    with make_runtime().db.unit_of_work() as uow:
        try:
            if args.action == "place":
                hold = place_hold(uow.session, args.target, basis=args.basis or "", reference=args.reference,
                                  by=args.by)
                print(hold.id)
            elif args.action == "lift":
                lift_hold(uow.session, args.target, reason=args.reason or "", by=args.by)
            else:
                holds = active_holds(uow.session, args.target)
                print(json.dumps([{"id": h.id, "basis": h.basis, "reference": h.reference, "placed_by": h.placed_by,
                                   "placed_at": h.placed_at.isoformat()} for h in holds], ensure_ascii=False))
        except DecisionRefused as exc:
            parser.error(exc.message)
        uow.commit()
    return 0


COMMANDS = {"seed": seed, "verify": verify, "create-user": create_user, "issue-token": issue_token,
            "legal-hold": legal_hold, "retention": retention, "specialists": specialists, "bench": bench,
            "transparency": transparency}
