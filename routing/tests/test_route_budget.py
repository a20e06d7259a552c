"""The route budget (pre-session check): hand-computed figures per follower
and for the route; reads only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from conftest import fill_stored
from journal.models import JournalEntry, Position
from routing.engine.limits import RouteLevel
from routing.engine.sessions import session_start
from routing.models import (
    AccountSession,
    ContractMapping,
    CopyGroup,
    Follower,
    LeaderEvent,
    RiskLimit,
)
from routing.route_budget import RouteBudget, route_budget
from routing.services.contracts import contract_specs_sync
from routing.services.copy_groups import copy_group_create, follower_add

pytestmark = pytest.mark.django_db
D = Decimal

# Wednesday 2025-03-12 10:00 CDT: trading date 2025-03-12, the session opened
# Tuesday 2025-03-11 17:00 CDT = 22:00 UTC.
AT = datetime(2025, 3, 12, 15, 0, tzinfo=UTC)
DAY = date(2025, 3, 12)
OPENED = datetime(2025, 3, 11, 22, 0, tzinfo=UTC)


def test_session_of_the_fixture_time_is_as_stated() -> None:
    assert session_start(AT) == OPENED


class Setup:
    """A route led by ``Lead`` into ``A``, ``B``, ``C`` (50K accounts)."""

    def __init__(self, owner: User, names: tuple[str, ...] = ("A", "B", "C")) -> None:
        contract_specs_sync()
        self.owner = owner
        self.leader = broker_account_create(owner=owner, name="Lead", balance=D(50_000))
        self.group = copy_group_create(owner=owner, name="Route", leader=self.leader)
        self.accounts: dict[str, BrokerAccount] = {}
        self.followers: dict[str, Follower] = {}
        for name in names:
            account = broker_account_create(
                owner=owner, name=name, balance=D(50_000), kind="evaluation"
            )
            self.accounts[name] = account
            self.followers[name] = follower_add(group=self.group, account=account)
        self._fills = 0

    def limits(self, name: str, **fields: object) -> None:
        RiskLimit.objects.update_or_create(account=self.accounts[name], defaults=fields)

    def realized(self, name: str, amount: str, at: datetime = AT - timedelta(hours=1)) -> None:
        self._fills += 1
        fill_stored(
            account=self.accounts[name],
            broker_fill_id=f"f{self._fills}",
            symbol="MNQH5",
            side="sell",
            qty=1,
            price=D("20000"),
            realized_pnl=D(amount),
            filled_at=at,
        )

    def leader_fill(self, symbol: str = "MNQH5") -> None:
        LeaderEvent.objects.create(
            account=self.leader,
            external_id=f"e-{symbol}-{LeaderEvent.objects.count()}",
            symbol=symbol,
            side="buy",
            qty=1,
            price=D("20000"),
            occurred_at=AT - timedelta(minutes=30),
            source="test",
        )

    def route(self, **fields: object) -> None:
        CopyGroup.objects.filter(pk=self.group.pk).update(**fields)
        self.group.refresh_from_db()

    def budget(self) -> RouteBudget:
        return route_budget(group=self.group, at=AT)


@pytest.fixture
def setup(alice: User) -> Setup:
    return Setup(alice)


def _row(budget: RouteBudget, name: str):
    return next(b for b in budget.followers if b.account_name == name)


# -- the worked example ---------------------------------------------------------


def test_daily_loss_cushions_weakest_and_exposure_against_it(setup: Setup) -> None:
    # Arrange: daily loss 1000 / 1500 / 2000, session PnL -200 / -1400 / 0;
    # max per position 2 / 3 / 5; route: MNQ, stop 40 + slippage 4 ticks, cap 12.
    for name, loss, per_position in (("A", 1000, 2), ("B", 1500, 3), ("C", 2000, 5)):
        setup.limits(name, daily_loss=D(loss), max_position=per_position)
    setup.realized("A", "-200")
    setup.realized("B", "-1400")
    setup.realized("A", "-5000", at=OPENED - timedelta(minutes=1))  # last session: not counted
    setup.leader_fill("MNQH5")
    setup.route(stop_ticks=40, slippage_ticks=4, max_total_contracts=12)
    # Act
    budget = setup.budget()
    # Assert: cushions = limit + session PnL
    assert [b.session_pnl for b in budget.followers] == [D(-200), D(-1400), D(0)]
    assert [b.daily_loss_cushion for b in budget.followers] == [D(800), D(100), D(2000)]
    assert [b.cushion for b in budget.followers] == [D(800), D(100), D(2000)]
    assert [b.drawdown_cushion for b in budget.followers] == [None, None, None]
    assert [b.eligible for b in budget.followers] == [True, True, True]
    assert [b.max_contracts for b in budget.followers] == [2, 3, 5]
    # max total = min(route cap 12, 2 + 3 + 5 = 10) = 10
    assert budget.max_total_contracts == 10
    assert "2 + 3 + 5 = 10" in budget.max_total_note
    # risk per contract = (40 + 4) x 0.50 = 22.00; exposure 22.00 x 10 = 220.00
    assert budget.contract == "MNQH5"
    assert budget.tick_value == D("0.50")
    assert budget.risk_per_contract == D("22.00")
    assert budget.exposure == D("220.00")
    assert budget.weakest is not None and budget.weakest.account_name == "B"
    assert budget.weakest.cushion == D(100) and budget.weakest.eligible
    assert budget.exposure_exceeds_cushion is True  # 220 > 100
    assert [b.account_name for b in budget.receiving] == ["A", "B", "C"]
    assert budget.refusals == ()
    assert budget.route_session_pnl == D(-1600)


def test_route_cap_below_the_sum_wins_and_exposure_within_cushion(setup: Setup) -> None:
    for name, loss in (("A", 1000), ("B", 1500), ("C", 2000)):
        setup.limits(name, daily_loss=D(loss), max_position=5)
    setup.realized("B", "-1400")
    setup.leader_fill()
    setup.route(stop_ticks=40, slippage_ticks=4, max_total_contracts=4)
    budget = setup.budget()
    # min(4, 5 + 5 + 5 = 15) = 4; exposure 22 x 4 = 88 <= weakest 100
    assert budget.max_total_contracts == 4
    assert budget.exposure == D("88.00")
    assert budget.exposure_exceeds_cushion is False


def test_route_max_per_account_and_test_level_bound_each_account(setup: Setup) -> None:
    setup.limits("A", max_position=5)
    setup.limits("B", max_position=1)
    setup.route(max_contracts_per_account=2)
    budget = setup.budget()
    # A: min(5, 2) = 2; B: min(1, 2) = 1; C: route 2
    assert [b.max_contracts for b in budget.followers] == [2, 1, 2]
    assert budget.max_total_contracts == 5
    setup.route(level=RouteLevel.TEST.value)
    assert [b.max_contracts for b in setup.budget().followers] == [1, 1, 1]


def test_per_order_max_is_not_a_position_bound_so_total_is_unbounded(setup: Setup) -> None:
    setup.limits("A", max_contracts=5)  # per order: several orders add up
    setup.limits("B", max_position=2)
    setup.limits("C", max_position=2)
    setup.leader_fill()
    setup.route(stop_ticks=40)
    budget = setup.budget()
    a = _row(budget, "A")
    assert a.max_contracts is None and a.max_contracts_per_order == 5
    assert budget.max_total_contracts is None
    assert budget.max_total_note.startswith("unbounded") and "A" in budget.max_total_note
    assert budget.exposure is None
    assert budget.exposure_exceeds_cushion is None
    assert any("No bound on total contracts" in w for w in budget.warnings)


# -- drawdown cushions -----------------------------------------------------------------------


def test_static_drawdown_cushion_and_the_smaller_cushion_counts(setup: Setup) -> None:
    # A: 50,000 start, static max drawdown 2,000 -> floor 48,000; PnL -500 ->
    # equity 49,500 -> 1,500 to the floor; daily loss 1,000 -> 500: cushion 500.
    setup.limits("A", daily_loss=D(1000), max_drawdown=D(2000))
    setup.realized("A", "-500")
    a = _row(setup.budget(), "A")
    assert (a.equity, a.drawdown_floor, a.drawdown_cushion) == (D(49_500), D(48_000), D(1_500))
    assert a.daily_loss_cushion == D(500)
    assert a.cushion == D(500)
    assert a.provisional  # no session row yet: the reset's figures


def test_trailing_drawdown_cushions_from_the_session_row(setup: Setup) -> None:
    # Session rows: opening 51,000, intraday high 52,500, end-of-day high 51,000.
    for name in ("A", "B"):
        AccountSession.objects.create(
            account=setup.accounts[name],
            trading_date=DAY,
            opened_at=OPENED,
            opening_balance=D(51_000),
            high_water=D(52_500),
            eod_high_water=D(51_000),
        )
        setup.realized(name, "300")
    setup.limits("A", max_drawdown=D(2500), drawdown_mode="trailing_intraday")
    setup.limits("B", max_drawdown=D(2500), drawdown_mode="trailing_eod")
    budget = setup.budget()
    a, b = _row(budget, "A"), _row(budget, "B")
    # equity 51,000 + 300 = 51,300.
    # A: floor = min(52,500 - 2,500, start 50,000) = 50,000 -> cushion 1,300
    assert (a.equity, a.drawdown_floor, a.cushion) == (D(51_300), D(50_000), D(1_300))
    # B: floor = 51,000 - 2,500 = 48,500 -> cushion 2,800
    assert (b.drawdown_floor, b.cushion) == (D(48_500), D(2_800))
    assert not a.provisional and not b.provisional
    assert budget.weakest is not None and budget.weakest.account_name == "A"
    assert _row(budget, "C").cushion is None  # no limit at all
    assert any("C has no daily loss or drawdown limit" in w for w in budget.warnings)


def test_provisional_session_carries_the_realized_pnl_of_the_last_session(setup: Setup) -> None:
    # Previous session row (opening 50,000) and +1,000 realized since it opened,
    # before this session: the reset will open at 51,000. Static floor 48,000.
    AccountSession.objects.create(
        account=setup.accounts["A"],
        trading_date=DAY - timedelta(days=1),
        opened_at=OPENED - timedelta(days=1),
        opening_balance=D(50_000),
        high_water=D(50_000),
        eod_high_water=D(50_000),
    )
    setup.realized("A", "1000", at=OPENED - timedelta(hours=2))
    setup.limits("A", max_drawdown=D(2000))
    a = _row(setup.budget(), "A")
    assert a.provisional
    assert (a.equity, a.drawdown_floor, a.cushion) == (D(51_000), D(48_000), D(3_000))


# -- eligibility ---------------------------------------------------------------------------


def test_eligibility_reasons(setup: Setup, alice: User) -> None:
    for name in ("D", "E"):  # two more followers on the same route
        account = broker_account_create(owner=alice, name=name, balance=D(50_000))
        setup.accounts[name] = account
        setup.followers[name] = follower_add(group=setup.group, account=account)
    Follower.objects.filter(pk=setup.followers["A"].pk).update(enabled=False)
    AccountSession.objects.create(
        account=setup.accounts["B"],
        trading_date=DAY,
        opened_at=OPENED,
        opening_balance=D(50_000),
        high_water=D(50_000),
        eod_high_water=D(50_000),
        halted_at=AT - timedelta(hours=2),
        halt_reason="daily loss 1,000.00 \u2265 limit 1,000.00",
    )
    setup.limits("C", daily_loss=D(500))
    setup.realized("C", "-500")  # reached: loss 500 >= 500, cushion 0
    setup.limits("D", max_drawdown=D(1000))
    setup.realized("D", "-1000")  # equity 49,000 = floor 49,000
    setup.route(max_accounts=4)  # enabled in order: B C D E -> all four slots
    budget = setup.budget()
    rows = {b.account_name: b for b in budget.followers}
    assert rows["A"].reasons == ("follower paused",)
    assert rows["B"].halt == "daily loss 1,000.00 \u2265 limit 1,000.00"
    assert rows["B"].reasons == ("halted this session: daily loss 1,000.00 \u2265 limit 1,000.00",)
    assert rows["C"].reasons == ("daily loss 500.00 \u2265 limit 500.00",)
    assert rows["C"].cushion == D(0)
    assert rows["D"].reasons[0].startswith("equity 49,000.00 \u2264 drawdown floor 49,000.00")
    assert rows["E"].eligible
    assert [b.account_name for b in budget.receiving] == ["E"]
    # The weakest cushion (0; C and D tie, the first in order) receives no entries.
    assert budget.weakest is not None and budget.weakest.account_name == "C"
    assert budget.weakest.cushion == D(0) and not budget.weakest.eligible
    setup.route(max_accounts=3)  # B C D take the slots: E is out
    e = _row(setup.budget(), "E")
    assert e.reasons == ("not among the route's first 3 enabled followers",)


# -- route-wide refusals -----------------------------------------------------------------------


def test_level_two_needs_review_for_the_trading_date_and_a_total_cap(setup: Setup) -> None:
    setup.route(level=RouteLevel.REDUCED.value, max_total_contracts=3)
    budget = setup.budget()
    assert budget.refusals == ("route level 2 Reduced: not marked reviewed this session",)
    assert budget.receiving == ()
    assert not budget.reviewed
    setup.route(reviewed_on=DAY - timedelta(days=1))  # yesterday's review does not count
    assert not setup.budget().reviewed
    setup.route(reviewed_on=DAY)
    budget = setup.budget()
    assert budget.reviewed and budget.refusals == ()
    assert [b.account_name for b in budget.receiving] == ["A", "B", "C"]
    setup.route(max_total_contracts=None)
    budget = setup.budget()
    assert budget.refusals == ("route level 2 Reduced needs a max total contracts cap",)


@pytest.mark.parametrize(
    ("level", "refusal"),
    [
        (RouteLevel.OFF, "route level 0 Off"),
        (RouteLevel.LOCKED, "route level 4 Locked"),
    ],
)
def test_level_off_and_locked_refuse_every_account(
    setup: Setup, level: RouteLevel, refusal: str
) -> None:
    setup.route(level=level.value, level_reason="incident")
    budget = setup.budget()
    assert budget.refusals[0].startswith(refusal)
    assert budget.receiving == ()
    assert budget.level is level and budget.level_reason == "incident"
    assert all(b.eligible for b in budget.followers)  # eligible once the level allows


def test_paused_route_and_route_session_loss_refuse(setup: Setup) -> None:
    setup.realized("A", "-900")
    setup.realized("B", "-700")
    setup.route(enabled=False, max_session_loss=D(1500))
    budget = setup.budget()
    assert budget.refusals == (
        "route paused: entries are not copied, exits are",
        "route session loss 1,600.00 \u2265 limit 1,500.00",
    )
    assert budget.max_route_loss == D(1500)
    assert budget.route_loss_room == D(-100)


# -- the contract ------------------------------------------------------------------------------


def test_no_leader_contract_then_risk_unknown_fail_closed(setup: Setup) -> None:
    setup.route(stop_ticks=40, max_total_contracts=5)
    setup.limits("A", daily_loss=D(1000))
    budget = setup.budget()
    assert budget.contract is None
    assert budget.risk_per_contract is None
    assert budget.risk_note.startswith("unknown: the leader has no position and no fill yet")
    assert budget.exposure is None and budget.exposure_exceeds_cushion is None


def test_stop_ticks_unset_then_risk_not_set(setup: Setup) -> None:
    setup.leader_fill()
    budget = setup.budget()
    assert budget.contract == "MNQH5"
    assert budget.risk_per_contract is None
    assert budget.risk_note == "not set: exposure cannot be computed (set the route's stop ticks)"


def test_open_leader_position_and_mapping_pick_the_follower_contract(setup: Setup) -> None:
    setup.leader_fill("MNQH5")  # older fill in another contract
    Position.objects.create(account=setup.leader, symbol="MNQM5", qty=2, avg_price=D(20000))
    ContractMapping.objects.create(group=setup.group, leader_root="MNQ", follower_root="NQ")
    setup.route(stop_ticks=40, slippage_ticks=4, max_total_contracts=2)
    budget = setup.budget()
    # NQ tick value 5.00: (40 + 4) x 5.00 = 220.00 per contract, x 2 = 440.00
    assert budget.contract == "NQM5"
    assert "mapped MNQ \u2192 NQ" in budget.contract_note
    assert budget.risk_per_contract == D("220.00")
    assert budget.exposure == D("440.00")


def test_budget_reads_only(setup: Setup) -> None:
    setup.limits("A", daily_loss=D(1000), max_drawdown=D(2000))
    setup.leader_fill()
    entries, sessions = JournalEntry.objects.count(), AccountSession.objects.count()
    setup.budget()
    assert (JournalEntry.objects.count(), AccountSession.objects.count()) == (entries, sessions)
    assert sessions == 0
