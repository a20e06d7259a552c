"""The route file: a copy group described in TOML, for ``manage.py replay``.

Schema (unknown keys are an error, so a typo never silently falls back to a
default)::

    [group]
    name = "Evals"
    copy_mode = "multiplier"          # or "fixed"
    copy_value = 1
    sizing_mode = "contracts"         # or "notional" (dollars per point preserved)
    rounding = "entry_down_exit_up"   # or "nearest", "always_down"
    auto_micro = false                # an entry rounding to 0 on a mini is sized on its micro
    quarantine = true                 # a rejected entry pauses that symbol for the follower
    partial_exit = "proportional"     # or "exit_with_leader"

    [[mappings]]                      # optional, any number: leader root -> follower root
    leader = "MNQ"
    follower = "NQ"

    [leader]
    name = "Lead"
    balance = 150000

    [[followers]]
    name = "Eval 50K"
    balance = 50000
    ratio = 0.5                       # 0.1-1000, default 1
    sizing_basis = "ratio"            # or "percent_of_balance" (x balance / leader balance)
    kind = "evaluation"               # personal / evaluation / funded
    [followers.limits]
    daily_loss = 1000                 # dollars
    max_contracts = 5                 # per entry order

Pure: no Django. Numbers are read as ``Decimal`` (TOML floats included).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from routing.engine.types import (
    RATIO_MAX,
    RATIO_MIN,
    CopyMode,
    GroupConfig,
    PartialExit,
    RiskLimits,
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
_LEADER_KEYS = {"name", "balance"}
_FOLLOWER_KEYS = {"name", "balance", "ratio", "sizing_basis", "kind", "limits"}
_LIMIT_KEYS = {"daily_loss", "max_contracts"}
_MAPPING_KEYS = {"leader", "follower"}
_TOP_KEYS = {"group", "leader", "followers", "mappings"}
_ROOT = re.compile(r"^[A-Z0-9]{1,4}$")


class RouteFileError(ValueError):
    """A route file that cannot be used; the message names the file and key."""


@dataclass(frozen=True, slots=True)
class AccountSpec:
    name: str
    balance: Decimal
    kind: str = "personal"


@dataclass(frozen=True, slots=True)
class FollowerSpec:
    account: AccountSpec
    ratio: Decimal
    limits: RiskLimits
    sizing_basis: SizingBasis = SizingBasis.RATIO


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """A parsed route: group settings, the leader and its followers (in file order)."""

    name: str
    group: GroupConfig
    leader: AccountSpec
    followers: tuple[FollowerSpec, ...]


def load_route_file(path: str | Path) -> RouteSpec:
    """Read and validate a route file. Raises :class:`RouteFileError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RouteFileError(f"{p}: cannot read route file: {exc.strerror}") from exc
    return parse_route(text, name=p.name)


def parse_route(text: str, *, name: str) -> RouteSpec:
    """Parse route TOML ``text``; ``name`` is used in error messages."""
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
    )
    follower_specs = tuple(_follower(f, i, name) for i, f in enumerate(followers, start=1))
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


def _follower(raw: Any, index: int, name: str) -> FollowerSpec:
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
    _no_unknown(limits_raw, _LIMIT_KEYS, name, f"{where}.limits")
    daily_loss = limits_raw.get("daily_loss")
    max_contracts = limits_raw.get("max_contracts")
    if max_contracts is not None and (
        isinstance(max_contracts, bool) or not isinstance(max_contracts, int) or max_contracts <= 0
    ):
        raise RouteFileError(
            f"{name}: {where}.limits.max_contracts must be a whole number > 0, "
            f"got {max_contracts!r}"
        )
    limits = RiskLimits(
        daily_loss=None
        if daily_loss is None
        else _positive(daily_loss, name, f"{where}.limits.daily_loss"),
        max_contracts=max_contracts,
    )
    account = AccountSpec(
        name=_text(raw, "name", name, where),
        balance=_money(raw.get("balance"), name, f"{where}.balance"),
        kind=kind,
    )
    basis = _choice(raw, "sizing_basis", SizingBasis, SizingBasis.RATIO, name, where)
    if basis is SizingBasis.PERCENT_OF_BALANCE and account.balance <= 0:
        raise RouteFileError(f"{name}: {where}.balance must be > 0 for percent_of_balance sizing")
    return FollowerSpec(account=account, ratio=ratio, limits=limits, sizing_basis=basis)


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
