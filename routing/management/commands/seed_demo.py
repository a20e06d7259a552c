"""``manage.py seed_demo``: the demo user, a leader, five followers and a
replay that makes the live feed move. Creates the accounts once; each run
makes sure a demo replay is queued and prints the URL and the login.

The demo password is generated on each machine and kept in the git-ignored
``.demo-credentials`` (mode 0600), which ``make run`` prints. A run that
finds the demo user's password missing from that file, not matching it, or
equal to a value once committed to the repository sets a new one (issue 14:
the committed demo password is rotated out of use)."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from journal.importers.base import ExportError, ImportResult
from journal.importers.detect import read_export
from journal.services import export_import_create
from routing.engine.limits import RouteLevel
from routing.models import ContractSpec, CopyGroup, ReplayJob
from routing.runtime.simulated import simulated_session
from routing.services.copy_groups import copy_group_create, follower_add, risk_limit_set
from routing.services.group_rules import copy_group_update
from routing.services.replays import replay_job_create
from routing.services.risk_limits import risk_limit_update
from routing.services.route_levels import route_level_set

logger = logging.getLogger(__name__)

DEMO_USERNAME = "demo"
# Passwords that were once public: the content of .demo-credentials committed
# in 35d8254 ("Dashboard, websocket feed, uploads, demo seed, replay jobs")
# and removed in dce4c53 (found with `git log -p -- .demo-credentials`).
# Kept only to refuse them: a demo user still holding one gets a new password.
PUBLISHED_DEMO_PASSWORDS = ("DjGaorRcMv9B",)
DEMO_GROUP = "Demo route"
DEMO_EXPORT = "qsor27_FuturesTradingLog/NinjaTrader Grid 2025-01-28 11-21 AM.csv"
DEMO_LEADER_ACCOUNT = "Sim101"
# Route budget of the demo: a 40-tick stop plus 4 ticks of slippage prices
# the risk per contract; fills more than 8 ticks from the leader lock it.
DEMO_ROUTE_LIMITS = {
    "stop_ticks": 40,
    "slippage_ticks": 4,
    "max_slippage_ticks": 8,
    "max_contracts_per_account": 40,
    "max_total_contracts": 120,
    "max_session_loss": Decimal(10_000),
}
# Prop-firm style drawdowns on the evaluations: account -> (max drawdown, mode).
DEMO_DRAWDOWNS = {
    "Eval 25K": (Decimal(1_500), "trailing_eod"),
    "Eval 50K": (Decimal(2_500), "trailing_intraday"),
    "Eval 100K": (Decimal(3_000), "trailing_intraday"),
}
# name, balance, ratio, kind, daily loss limit, max contracts per order
DEMO_FOLLOWERS = (
    ("Eval 25K", 25_000, "0.5", "evaluation", 500, 5),
    ("Eval 50K", 50_000, "1", "evaluation", 1_000, 10),
    ("Eval 100K", 100_000, "1.5", "evaluation", 2_000, 15),
    ("Funded 150K", 150_000, "2", "funded", 3_000, 20),
    ("Personal 150K", 150_000, "3", "personal", 4_500, 30),
)


class Command(BaseCommand):
    help = "Create the demo user and route (once) and queue a demo replay."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1:8000", help="Where the dashboard is served."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        credentials = settings.BASE_DIR / ".demo-credentials"
        with transaction.atomic():
            user = User.objects.filter(username=DEMO_USERNAME).first()
            if user is None:
                user = User.objects.create_user(DEMO_USERNAME, password=None)
                _demo_password_new(user, credentials)
                group = _create_route(user)
            else:
                if not _demo_password_kept(user, credentials):
                    _demo_password_new(user, credentials)
                group = CopyGroup.objects.get(owner=user, name=DEMO_GROUP)
            source = _queue_replay(user, group)
        # The leaderboard's plans and pilots (issue 11), by name: routing
        # never imports pilots. Silent without shared/data.
        call_command("seed_demo_pilots", stdout=self.stdout)
        password = (
            credentials.read_text().strip() if credentials.exists() else "(see .demo-credentials)"
        )
        self.stdout.write(self.style.SUCCESS(f"Copytrade dashboard: http://{options['host']}/"))
        self.stdout.write(f"Demo login: {DEMO_USERNAME} / {password}")
        self.stdout.write(f"Demo feed: {source}")


def _demo_password_new(user: User, credentials: Path) -> None:
    """Give ``user`` a new random password and write it to ``credentials`` (0600)."""
    password = secrets.token_urlsafe(9)
    user.set_password(password)
    user.save(update_fields=["password"])
    # Created empty with 0600 first: the password is never readable by others.
    credentials.touch(mode=0o600, exist_ok=True)
    credentials.chmod(0o600)
    credentials.write_text(password)


def _demo_password_kept(user: User, credentials: Path) -> bool:
    """True when ``credentials`` holds ``user``'s password and it was never published."""
    if not credentials.exists():
        return False
    password = credentials.read_text().strip()
    if not password or password in PUBLISHED_DEMO_PASSWORDS:
        return False
    if any(user.check_password(p) for p in PUBLISHED_DEMO_PASSWORDS):
        return False
    return user.check_password(password)


def _create_route(user: User) -> CopyGroup:
    leader = broker_account_create(
        owner=user,
        name=f"Lead ({DEMO_LEADER_ACCOUNT})",
        balance=Decimal(150_000),
        kind=BrokerAccount.Kind.PERSONAL,
    )
    # Like every new route, the demo's starts at level 1 Test; it is raised
    # below, journaled with why, so the demo copies each follower at its ratio.
    group = copy_group_create(
        owner=user,
        name=DEMO_GROUP,
        leader=leader,
        actor_label="seed_demo",
        level=CopyGroup.Level.TEST,
    )
    for name, balance, ratio, kind, daily_loss, max_contracts in DEMO_FOLLOWERS:
        account = broker_account_create(owner=user, name=name, balance=Decimal(balance), kind=kind)
        follower_add(group=group, account=account, ratio=Decimal(ratio), actor_label="seed_demo")
        risk_limit_set(
            account=account,
            daily_loss=Decimal(daily_loss),
            max_contracts=max_contracts,
            actor_label="seed_demo",
        )
        if name in DEMO_DRAWDOWNS:
            max_drawdown, mode = DEMO_DRAWDOWNS[name]
            risk_limit_update(
                account=account, actor=user, max_drawdown=max_drawdown, drawdown_mode=mode
            )
    copy_group_update(group=group, actor=user, data=DEMO_ROUTE_LIMITS)
    route_level_set(
        group=group,
        level=RouteLevel.ACTIVE,
        actor=user,
        reason="seed_demo: the demo route copies each follower at its ratio",
    )
    return group


def _queue_replay(user: User, group: CopyGroup) -> str:
    open_job = ReplayJob.objects.filter(
        group=group, status__in=[ReplayJob.Status.PENDING, ReplayJob.Status.RUNNING]
    ).first()
    if open_job is not None:
        return f"{open_job.label} (already queued)"
    result, simulated = _demo_export()
    record = export_import_create(owner_id=user.pk, result=result, actor_label="seed_demo")
    label = (
        "Simulated MNQ session"
        if simulated
        else f"{DEMO_EXPORT.split('/')[-1]} ({DEMO_LEADER_ACCOUNT})"
    )
    replay_job_create(
        group=group,
        export_import=record,
        actor_label="seed_demo",
        simulated=simulated,
        repeat=True,
        label=label,
        interval_ms=int(settings.DEMO_FILL_INTERVAL_SECONDS * 1000),
    )
    return label + (" — simulated, no real export found" if simulated else " — real export")


def _demo_export() -> tuple[ImportResult, bool]:
    path = settings.SHARED_DATA_DIR / DEMO_EXPORT
    if path.is_file():
        try:
            ticks = dict(ContractSpec.objects.values_list("root", "tick_size"))
            result = read_export(
                path, leader_account=DEMO_LEADER_ACCOUNT, known_roots=set(ticks), tick_sizes=ticks
            )
            return result, False
        except ExportError as exc:
            # The page labels the simulated session, and the operator sees why.
            logger.warning("demo export unusable, simulating instead: %s", exc)
    fills = simulated_session(start=datetime.now(UTC))
    return (
        ImportResult(
            path="simulated-session",
            format="simulated",
            fills=tuple(fills),
            trades=(),
            accounts=("simulated",),
            leader_account="simulated",
            timezone="UTC",
            replayable=True,
            not_replayable_reason=None,
        ),
        True,
    )
