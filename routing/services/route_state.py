"""A leader's routes, held in memory between leader events.

Everything the engine needs about a leader's copy groups that changes only
when someone edits it — the groups' settings, their followers (ratio, sizing
basis, enabled), the follower accounts (balance, starting balance, platform),
their risk limits, the mappings and the contract specs — is loaded once per
leader and kept in the process (:func:`leader_routes`). What moves with
trading (expected positions, sessions and halts, quarantines, PnL, marks) is
read per event in bulk by the ingest.

The cache is keyed by :class:`routing.models.RouteConfigVersion`: one row
bumped in the transaction of every change to the cached tables
(``routing.signals`` for saves and deletes, :func:`route_config_bump` for
queryset updates). The ingest reads the version right after it locks the
leader's row, in a statement of its own (so its snapshot is taken after any
change that held the leader's row commits): a change whose save returned
before the event arrived, or that the event waited for, is always seen; the
cache is rebuilt when the version moved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import F

from copytrade.core.hot_reads import HotRead, ReadAhead
from routing.engine.limits import RiskLimits
from routing.engine.types import ContractSpec as EngineSpec
from routing.engine.types import GroupConfig
from routing.models import ContractMapping, CopyGroup, Follower, RouteConfigVersion
from routing.selectors import engine_contract_specs

VERSION_PK = 1
ConfigKey = tuple[UUID, int]


def route_config_bump() -> None:
    """Move the route configuration version on by one, in the caller's
    transaction (the row is created when missing, e.g. after a flush)."""
    if RouteConfigVersion.objects.filter(pk=VERSION_PK).update(version=F("version") + 1):
        return
    try:
        with transaction.atomic():
            RouteConfigVersion.objects.create(pk=VERSION_PK, version=1)
    except IntegrityError:
        # Created meanwhile by a concurrent bump: move it on as well.
        RouteConfigVersion.objects.filter(pk=VERSION_PK).update(version=F("version") + 1)


@dataclass(frozen=True, slots=True)
class GroupRoute:
    """One copy group as the engine sees it between edits.

    ``config`` carries the route limits with ``reviewed`` False: whether a
    level-2 route was reviewed depends on the event's session, so the ingest
    sets it per event from ``group.reviewed_on``. ``followers`` are in pk
    order with their accounts; ``limits`` maps follower account id to its
    risk limits.
    """

    group: CopyGroup
    config: GroupConfig
    followers: tuple[Follower, ...]
    limits: Mapping[int, RiskLimits]


@dataclass(frozen=True, slots=True)
class LeaderRoutes:
    """Every group a leader account leads (paused ones too: their exits are
    copied), in pk order, and the contract specs by root."""

    key: ConfigKey | None
    leader_id: int
    groups: tuple[GroupRoute, ...]
    specs: Mapping[str, EngineSpec]


_cache: dict[int, LeaderRoutes] = {}


def leader_routes(*, leader_id: int, key: ConfigKey | None) -> LeaderRoutes:
    """The routes of leader account ``leader_id`` for configuration ``key``
    (from :func:`route_config_key` or the ingest's leader lock): the cached
    copy when it was built on ``key``, else loaded now and cached. ``None``
    (no version row) loads without caching.

    Raises ``ValueError`` naming a stored risk limit the engine refuses.
    """
    cached = _cache.get(leader_id)
    if key is not None and cached is not None and cached.key == key:
        return cached
    routes = _load(leader_id, key)
    if key is not None:
        _cache[leader_id] = routes
    return routes


def leader_routes_cached(leader_id: int) -> LeaderRoutes | None:
    """The routes of ``leader_id`` as last cached (``None`` when none are),
    whatever the configuration key now: for a guess made before the key is
    read (:mod:`routing.services.leader_event_rows`), checked after."""
    return _cache.get(leader_id)


def route_config_key() -> ConfigKey | None:
    """The current configuration key, or ``None`` when the row is missing."""
    rows = _config_key()
    return (rows[0][0], rows[0][1]) if rows else None


def route_config_key_ahead() -> ReadAhead:
    """:func:`route_config_key`'s read, to run ahead
    (:func:`copytrade.core.hot_reads.hot_reads_ahead`)."""
    return (_config_key, ())


# Read at every leader event (compiled once).
_config_key = HotRead(
    "route configuration key",
    RouteConfigVersion,
    lambda: RouteConfigVersion.objects.filter(pk=VERSION_PK).values_list("token", "version"),
    lambda connection: [VERSION_PK],
)


def route_cache_clear() -> None:
    """Forget every cached route (tests; a worker that lost its leases)."""
    _cache.clear()


def _load(leader_id: int, key: ConfigKey | None) -> LeaderRoutes:
    """The leader's routes from the database: three reads whatever the number
    of groups (a published pilot's account leads one per subscriber)."""
    from routing.services.risk_watch import limits_of

    groups = list(
        CopyGroup.objects.filter(leader_id=leader_id).select_related("leader").order_by("pk")
    )
    ids = [group.pk for group in groups]
    followers: dict[int, list[Follower]] = defaultdict(list)
    for follower in (
        Follower.objects.filter(group_id__any_of=ids)
        .select_related("account", "account__risk_limit")
        .order_by("pk")
    ):
        followers[follower.group_id].append(follower)
    mappings: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for group_id, leader_root, follower_root in (
        ContractMapping.objects.filter(group_id__any_of=ids)
        .order_by("group_id", "leader_root")
        .values_list("group_id", "leader_root", "follower_root")
    ):
        mappings[group_id].append((leader_root, follower_root))
    routes = []
    for group in groups:
        members = tuple(followers[group.pk])
        routes.append(
            GroupRoute(
                group=group,
                config=group.to_engine(mappings=tuple(mappings[group.pk])),
                followers=members,
                limits={f.account_id: limits_of(f.account) for f in members},
            )
        )
    return LeaderRoutes(
        key=key, leader_id=leader_id, groups=tuple(routes), specs=engine_contract_specs()
    )
