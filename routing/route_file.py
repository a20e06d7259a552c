"""The route file: a copy group described in TOML, for ``manage.py replay``.

Schema (unknown keys are an error, so a typo never silently falls back to a
default; a bad value is refused naming the file, the key and the value)::

    [group]
    name = "Evals"
    copy_mode = "multiplier"          # or "fixed"
    copy_value = 1
    sizing_mode = "contracts"         # or "notional" (dollars per point preserved)
    rounding = "entry_down_exit_up"   # or "nearest", "always_down"
    auto_micro = false                # an entry rounding to 0 on a mini is sized on its micro
    quarantine = true                 # a rejected entry pauses that symbol for the follower
    partial_exit = "proportional"     # or "exit_with_leader"

    [route]                           # optional: the route's level and limits
    level = 3                         # 0 Off, 1 Test, 2 Reduced, 3 Active (default), 4 Locked
    max_accounts = 5                  # followers that receive entries (the first ones)
    max_contracts_per_account = 10    # contracts one follower may hold across contracts
    max_total_contracts = 30          # across all followers (level 2 needs it)
    max_session_loss = 2500           # dollars across followers; reached: level 4 Locked
    stop_ticks = 40                   # risk per contract = (stop + slippage ticks) x tick value
    slippage_ticks = 2                # default 0
    max_slippage_ticks = 8            # a follower fill further from the leader's locks the route

    [[mappings]]                      # optional, any number: leader root -> follower root
    leader = "MNQ"
    follower = "NQ"

    [leader]
    name = "Lead"
    balance = 150000

    [[followers]]
    name = "Eval 50K"
    balance = 50000                   # dollars at the start of the replay
    starting_balance = 50000          # the account's starting balance (drawdown); default balance
    ratio = 0.5                       # 0.1-1000, default 1
    sizing_basis = "ratio"            # or "percent_of_balance" (x balance / leader balance)
    kind = "evaluation"               # personal / evaluation / funded
    [followers.limits]                # every key optional; absent = no such limit
    daily_loss = 1000                 # dollars, realized + unrealized per CME session
    flatten_on_breach = false         # true: reaching daily_loss also closes the positions
    daily_profit_target = 1500        # dollars: session PnL (realized + unrealized) reaching
                                      # it stops entries for the session; exits still copy
    max_contracts = 5                 # per entry order
    max_position = 3                  # contracts per position (one contract)
    max_open_positions = 2            # positions (contracts) open at once
    position_cap_pct = 1              # % of balance one position may risk (needs stop_ticks)
    exposure_cap = 2000               # dollars of risk across positions (needs stop_ticks)
    on_breach = "scale_down"          # or "block" (default): what a breached cap does
    allowed_roots = ["MNQ", "MES"]    # empty or absent: every product
    denied_roots = ["CL"]
    direction = "both"                # or "long_only", "short_only"
    max_drawdown = 2500               # dollars below the high-water mark or start
    drawdown_mode = "trailing_intraday"  # or "static" (default), "trailing_eod"
    profit_target = 3000              # dollars; with consistency_pct: the consistency lock
    consistency_pct = 30              # default 30: session profit > 30% of target locks entries

Names match :class:`routing.engine.limits.RiskLimits` and
:class:`routing.engine.limits.RouteLimits`. ``[route]`` is its own table
(not keys of ``[group]``) so the copy settings and the risk settings read
apart. Settings that could never apply are refused rather than ignored:
level 2 without ``max_total_contracts``, ``position_cap_pct`` or
``exposure_cap`` without ``stop_ticks``, ``consistency_pct`` without
``profit_target``, ``drawdown_mode`` without ``max_drawdown``,
``flatten_on_breach`` without ``daily_loss``.

Pure: no Django. Numbers are read as ``Decimal`` (TOML floats included);
contract counts and ticks must be TOML integers.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from routing.engine.bounds import (
    MAX_CONTRACTS,
    MIN_CONTRACTS,
    DecimalColumn,
    amount_problem,
    quantity_problem,
)
from routing.engine.limits import (
    DEFAULT_CONSISTENCY_PCT,
    Direction,
    DrawdownMode,
    OnBreach,
    RiskLimits,
    RouteLevel,
    RouteLimits,
    limit_names,
)
from routing.engine.types import (
    RATIO_MAX,
    RATIO_MIN,
    CopyMode,
    GroupConfig,
    PartialExit,
    RoundingMode,
    SizingBasis,
    SizingMode,
)

ACCOUNT_KINDS = ("personal", "evaluation", "funded")

_GROUP_KEYS = {
    "name",
    "copy_mode",
    "copy_value",
    "sizing_mode",
    "rounding",
    "auto_micro",
    "quarantine",
    "partial_exit",
}
_ROUTE_KEYS = {
    "level",
    "max_accounts",
    "max_contracts_per_account",
    "max_total_contracts",
    "max_session_loss",
    "stop_ticks",
    "slippage_ticks",
    "max_slippage_ticks",
}
_LEADER_KEYS = {"name", "balance"}
_FOLLOWER_KEYS = {
    "name",
    "balance",
    "starting_balance",
    "ratio",
    "sizing_basis",
    "kind",
    "limits",
}
_LIMIT_KEYS = set(limit_names())
_MAPPING_KEYS = {"leader", "follower"}
_TOP_KEYS = {"group", "route", "leader", "followers", "mappings"}
_ROOT = re.compile(r"^[A-Z0-9]{1,4}$")
_LEVELS = ", ".join(f"{level.value} ({level.name.title()})" for level in RouteLevel)


class RouteFileError(ValueError):
    """A route file that cannot be used; the message names the file and key."""


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """One account of the route: ``balance`` dollars when the replay starts;
    ``starting_balance`` the account's starting balance (the drawdown floor's
    base; ``None``: same as ``balance``)."""

    name: str
    balance: Decimal
    kind: str = "personal"
    starting_balance: Decimal | None = None

    @property
    def start(self) -> Decimal:
        """The starting balance, dollars (``balance`` when none was given)."""
        return self.balance if self.starting_balance is None else self.starting_balance


@dataclass(frozen=True, slots=True)
class FollowerSpec:
    account: AccountSpec
    ratio: Decimal
    limits: RiskLimits
    sizing_basis: SizingBasis = SizingBasis.RATIO


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """A parsed route: group settings (the route level and limits in
    ``group.limits``), the leader and its followers (in file order)."""

    name: str
    group: GroupConfig
    leader: AccountSpec
    followers: tuple[FollowerSpec, ...]


def load_route_file(path: str | Path, *, money: DecimalColumn | None = None) -> RouteSpec:
    """Read and validate a route file. Raises :class:`RouteFileError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RouteFileError(f"{p}: cannot read route file: {exc.strerror}") from exc
    return parse_route(text, name=p.name, money=money)


def parse_route(text: str, *, name: str, money: DecimalColumn | None = None) -> RouteSpec:
    """Parse route TOML ``text``; ``name`` is used in error messages.

    Contract counts must be 1 to 10,000 and every balance and dollar limit
    must fit ``money``, the dollar column they are stored in (default: read
    from the models by ``journal.limits.money_column``, which needs Django set
    up; issue 10, defect 8). Raises :class:`RouteFileError` naming ``name``,
    the key and the value.
    """
    spec = _parse_route(text, name=name)
    if money is None:
        from journal.limits import money_column  # Django models: only when not given

        money = money_column()
    for where, value in _money_values(spec):
        problem = amount_problem(value, money)
        if problem is not None:
            raise RouteFileError(f"{name}: {where} {problem}")
    return spec


def _money_values(spec: RouteSpec) -> list[tuple[str, Decimal]]:
    """Every dollar figure of ``spec`` with its key, in file order."""
    values: list[tuple[str, Decimal | None]] = [
        ("leader.balance", spec.leader.balance),
        ("route.max_session_loss", spec.group.limits.max_session_loss),
    ]
    for index, follower in enumerate(spec.followers, start=1):
        where = f"followers[{index}]"
        values += [
            (f"{where}.balance", follower.account.balance),
            (f"{where}.starting_balance", follower.account.starting_balance),
        ]
        values += [
            (f"{where}.limits.{key}", getattr(follower.limits, key))
            for key in (
                "daily_loss",
                "daily_profit_target",
                "exposure_cap",
                "max_drawdown",
                "profit_target",
            )
        ]
    return [(where, value) for where, value in values if value is not None]


def _parse_route(text: str, *, name: str) -> RouteSpec:
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise RouteFileError(f"{name}: not valid TOML: {exc}") from exc
    _no_unknown(data, _TOP_KEYS, name, "")
    group = _table(data, "group", name)
    _no_unknown(group, _GROUP_KEYS, name, "group")
    leader = _table(data, "leader", name)
    _no_unknown(leader, _LEADER_KEYS, name, "leader")
    followers = data.get("followers")
    if not isinstance(followers, list) or not followers:
        raise RouteFileError(f"{name}: at least one [[followers]] table is required")

    leader_spec = AccountSpec(
        name=_text(leader, "name", name, "leader"),
        balance=_money(leader.get("balance"), name, "leader.balance"),
    )
    route_limits = _route_limits(data.get("route", {}), name)
    config = GroupConfig(
        copy_mode=_choice(group, "copy_mode", CopyMode, CopyMode.MULTIPLIER, name, "group"),
        copy_value=_positive(group.get("copy_value", Decimal(1)), name, "group.copy_value"),
        rounding=_choice(
            group, "rounding", RoundingMode, RoundingMode.ENTRY_DOWN_EXIT_UP, name, "group"
        ),
        sizing_mode=_choice(group, "sizing_mode", SizingMode, SizingMode.CONTRACTS, name, "group"),
        auto_micro=_flag(group, "auto_micro", False, name, "group"),
        quarantine=_flag(group, "quarantine", True, name, "group"),
        partial_exit=_choice(
            group, "partial_exit", PartialExit, PartialExit.PROPORTIONAL, name, "group"
        ),
        mappings=_mappings(data.get("mappings", []), name),
        leader_balance=leader_spec.balance,
        limits=route_limits,
    )
    follower_specs = tuple(
        _follower(f, i, name, route_limits) for i, f in enumerate(followers, start=1)
    )
    names = [leader_spec.name] + [f.account.name for f in follower_specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RouteFileError(
            f"{name}: account names must be unique (an account is never leader and follower, "
            f"nor follows twice): {', '.join(duplicates)}"
        )
    return RouteSpec(
        name=_text(group, "name", name, "group"),
        group=config,
        leader=leader_spec,
        followers=follower_specs,
    )


def _route_limits(raw: Any, name: str) -> RouteLimits:
    """The optional ``[route]`` table as :class:`RouteLimits` (``reviewed`` False)."""
    if not isinstance(raw, Mapping):
        raise RouteFileError(f"{name}: route must be a [route] table")
    _no_unknown(raw, _ROUTE_KEYS, name, "route")
    level_raw = raw.get("level", RouteLevel.ACTIVE.value)
    if (
        isinstance(level_raw, bool)
        or not isinstance(level_raw, int)
        or level_raw not in {lv.value for lv in RouteLevel}
    ):
        raise RouteFileError(f"{name}: route.level must be one of {_LEVELS}, got {level_raw!r}")
    level = RouteLevel(level_raw)
    limits = RouteLimits(
        level=level,
        max_accounts=_count(raw, "max_accounts", 1, name, "route"),
        max_contracts_per_account=_contracts(raw, "max_contracts_per_account", name, "route"),
        max_total_contracts=_contracts(raw, "max_total_contracts", name, "route"),
        max_session_loss=_optional_positive(raw, "max_session_loss", name, "route"),
        stop_ticks=_count(raw, "stop_ticks", 1, name, "route"),
        slippage_ticks=_count(raw, "slippage_ticks", 0, name, "route") or 0,
        max_slippage_ticks=_count(raw, "max_slippage_ticks", 0, name, "route"),
    )
    if level is RouteLevel.REDUCED and limits.max_total_contracts is None:
        raise RouteFileError(
            f"{name}: route.level 2 (Reduced) needs route.max_total_contracts "
            "(the cap that makes it reduced)"
        )
    return limits


def _follower(raw: Any, index: int, name: str, route: RouteLimits) -> FollowerSpec:
    where = f"followers[{index}]"
    if not isinstance(raw, Mapping):
        raise RouteFileError(f"{name}: {where} must be a table")
    _no_unknown(raw, _FOLLOWER_KEYS, name, where)
    ratio = _decimal(raw.get("ratio", Decimal(1)), name, f"{where}.ratio")
    if not RATIO_MIN <= ratio <= RATIO_MAX:
        raise RouteFileError(f"{name}: {where}.ratio must be between 0.1 and 1000, got {ratio}")
    kind = raw.get("kind", "personal")
    if kind not in ACCOUNT_KINDS:
        raise RouteFileError(
            f"{name}: {where}.kind must be one of {', '.join(ACCOUNT_KINDS)}, got {kind!r}"
        )
    limits_raw = raw.get("limits", {})
    if not isinstance(limits_raw, Mapping):
        raise RouteFileError(f"{name}: {where}.limits must be a table")
    limits = _risk_limits(limits_raw, name, f"{where}.limits", route)
    balance = _money(raw.get("balance"), name, f"{where}.balance")
    starting = raw.get("starting_balance")
    account = AccountSpec(
        name=_text(raw, "name", name, where),
        balance=balance,
        kind=kind,
        starting_balance=balance
        if starting is None
        else _money(starting, name, f"{where}.starting_balance"),
    )
    basis = _choice(raw, "sizing_basis", SizingBasis, SizingBasis.RATIO, name, where)
    if basis is SizingBasis.PERCENT_OF_BALANCE and account.balance <= 0:
        raise RouteFileError(f"{name}: {where}.balance must be > 0 for percent_of_balance sizing")
    return FollowerSpec(account=account, ratio=ratio, limits=limits, sizing_basis=basis)


def _risk_limits(raw: Mapping[str, Any], name: str, where: str, route: RouteLimits) -> RiskLimits:
    """A follower's ``[followers.limits]`` table as :class:`RiskLimits`.

    Each value is checked first, then the settings that need another one.
    """
    _no_unknown(raw, _LIMIT_KEYS, name, where)
    allowed = _roots(raw, "allowed_roots", name, where)
    denied = _roots(raw, "denied_roots", name, where)
    limits = RiskLimits(
        daily_loss=_optional_positive(raw, "daily_loss", name, where),
        daily_profit_target=_optional_positive(raw, "daily_profit_target", name, where),
        max_contracts=_contracts(raw, "max_contracts", name, where),
        max_position=_contracts(raw, "max_position", name, where),
        max_open_positions=_count(raw, "max_open_positions", 1, name, where),
        position_cap_pct=_percent(raw, "position_cap_pct", None, name, where),
        exposure_cap=_optional_positive(raw, "exposure_cap", name, where),
        on_breach=_choice(raw, "on_breach", OnBreach, OnBreach.BLOCK, name, where),
        direction=_choice(raw, "direction", Direction, Direction.BOTH, name, where),
        max_drawdown=_optional_positive(raw, "max_drawdown", name, where),
        drawdown_mode=_choice(raw, "drawdown_mode", DrawdownMode, DrawdownMode.STATIC, name, where),
        profit_target=_optional_positive(raw, "profit_target", name, where),
        consistency_pct=_percent(raw, "consistency_pct", DEFAULT_CONSISTENCY_PCT, name, where)
        or DEFAULT_CONSISTENCY_PCT,
        flatten_on_breach=_flag(raw, "flatten_on_breach", False, name, where),
    )
    both = allowed & denied
    if both:
        raise RouteFileError(
            f"{name}: {where}: {', '.join(sorted(both))} both in allowed_roots and denied_roots"
        )
    for key in ("position_cap_pct", "exposure_cap"):
        if key in raw and route.stop_ticks is None:
            raise RouteFileError(
                f"{name}: {where}.{key} needs route.stop_ticks "
                "(exposure = contracts x (stop + slippage ticks) x tick value)"
            )
    for key, needs in (
        ("consistency_pct", "profit_target"),
        ("drawdown_mode", "max_drawdown"),
        ("flatten_on_breach", "daily_loss"),
    ):
        if key in raw and needs not in raw:
            raise RouteFileError(f"{name}: {where}.{key} needs {where}.{needs}")
    return replace(limits, allowed_roots=allowed, denied_roots=denied)


def _roots(table: Mapping[str, Any], key: str, name: str, where: str) -> frozenset[str]:
    value = table.get(key, [])
    if not isinstance(value, list):
        raise RouteFileError(
            f"{name}: {where}.{key} must be an array of product roots like ['MNQ'], got {value!r}"
        )
    roots: set[str] = set()
    for item in value:
        root = item.strip().upper() if isinstance(item, str) else None
        if root is None or not _ROOT.match(root):
            raise RouteFileError(
                f"{name}: {where}.{key} must hold product roots like 'MNQ', got {item!r}"
            )
        roots.add(root)
    return frozenset(roots)


def _count(table: Mapping[str, Any], key: str, minimum: int, name: str, where: str) -> int | None:
    """An optional whole number ≥ ``minimum`` (contracts, accounts, ticks)."""
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        bound = "> 0" if minimum == 1 else f"≥ {minimum}"
        raise RouteFileError(f"{name}: {where}.{key} must be a whole number {bound}, got {value!r}")
    return value


def _contracts(table: Mapping[str, Any], key: str, name: str, where: str) -> int | None:
    """An optional number of contracts, 1 to 10,000 (:mod:`routing.engine.bounds`)."""
    value = _count(table, key, MIN_CONTRACTS, name, where)
    if value is not None and quantity_problem(value):
        raise RouteFileError(
            f"{name}: {where}.{key} must be a whole number of contracts from {MIN_CONTRACTS} "
            f"to {MAX_CONTRACTS:,}, got {value!r}"
        )
    return value


def _optional_positive(table: Mapping[str, Any], key: str, name: str, where: str) -> Decimal | None:
    value = table.get(key)
    return None if value is None else _positive(value, name, f"{where}.{key}")


def _percent(
    table: Mapping[str, Any], key: str, default: Decimal | None, name: str, where: str
) -> Decimal | None:
    """An optional percentage in (0, 100]."""
    value = table.get(key)
    if value is None:
        return default
    number = _decimal(value, name, f"{where}.{key}")
    if not 0 < number <= 100:
        raise RouteFileError(f"{name}: {where}.{key} must be in (0, 100] percent, got {number}")
    return number


def _mappings(raw: Any, name: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list):
        raise RouteFileError(f"{name}: mappings must be [[mappings]] tables")
    pairs: list[tuple[str, str]] = []
    for index, table in enumerate(raw, start=1):
        where = f"mappings[{index}]"
        if not isinstance(table, Mapping):
            raise RouteFileError(f"{name}: {where} must be a table")
        _no_unknown(table, _MAPPING_KEYS, name, where)
        leader = _text(table, "leader", name, where).upper()
        follower = _text(table, "follower", name, where).upper()
        for key, root in (("leader", leader), ("follower", follower)):
            if not _ROOT.match(root):
                raise RouteFileError(
                    f"{name}: {where}.{key} must be a product root like 'MNQ', got {root!r}"
                )
        if any(leader == existing for existing, _ in pairs):
            raise RouteFileError(f"{name}: {where}: {leader} is already mapped")
        pairs.append((leader, follower))
    return tuple(pairs)


def _flag(table: Mapping[str, Any], key: str, default: bool, name: str, where: str) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise RouteFileError(f"{name}: {where}.{key} must be true or false, got {value!r}")
    return value


def _no_unknown(table: Mapping[str, Any], allowed: set[str], name: str, where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        prefix = f"[{where}] " if where else ""
        raise RouteFileError(
            f"{name}: {prefix}unknown key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def _table(data: Mapping[str, Any], key: str, name: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise RouteFileError(f"{name}: a [{key}] table is required")
    return value


def _text(table: Mapping[str, Any], key: str, name: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RouteFileError(f"{name}: {where}.{key} must be a non-empty string")
    return value.strip()


def _decimal(value: Any, name: str, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise RouteFileError(f"{name}: {where} must be a number, got {value!r}")
    return Decimal(value)


def _positive(value: Any, name: str, where: str) -> Decimal:
    number = _decimal(value, name, where)
    if number <= 0:
        raise RouteFileError(f"{name}: {where} must be > 0, got {number}")
    return number


def _money(value: Any, name: str, where: str) -> Decimal:
    if value is None:
        raise RouteFileError(f"{name}: {where} is required")
    number = _decimal(value, name, where)
    if number < 0:
        raise RouteFileError(f"{name}: {where} must be ≥ 0, got {number}")
    return number


def _choice(
    table: Mapping[str, Any], key: str, enum: Any, default: Any, name: str, where: str
) -> Any:
    value = table.get(key, default.value)
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum)
        raise RouteFileError(
            f"{name}: {where}.{key} must be one of {allowed}, got {value!r}"
        ) from None
