"""A group's contract mappings from the dashboard: the explicit leader ->
follower product pairs (``NQ`` -> ``MNQ``; DESIGN.md, Contract mapping),
replaced as a set, journaled with who did it and the pairs before and after.

Lock order as every group rule (``routing.services.group_rules``): the
group's leader broker account, then the group, then its mapping rows; the
ingest locks the leader first, so an event is decided on the old pairs or
the new ones, never on half of a change. The save bumps the route
configuration version in the same transaction (``routing.signals`` on each
row, and once more here for the rows a queryset delete removed), so the
engine workers' cached routes pick the new pairs up on the next event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import transaction

from accounts.models import BrokerAccount, User
from copytrade.core.actors import actor_note, actor_reason_check
from copytrade.core.errors import ApplicationError
from journal.models import EventType
from journal.services import journal_record
from routing.models import ContractMapping, ContractSpec, CopyGroup
from routing.services.route_state import route_config_bump

_ROOT = re.compile(r"^[A-Z0-9]{1,10}$")


def _pairs_text(pairs: dict[str, str]) -> str:
    return ", ".join(f"{leader} \u2192 {follower}" for leader, follower in pairs.items()) or "none"


def contract_mapping_pairs(group: CopyGroup) -> dict[str, str]:
    """``group``'s mappings as leader root -> follower root, by leader root."""
    return dict(
        ContractMapping.objects.filter(group=group)
        .order_by("leader_root")
        .values_list("leader_root", "follower_root")
    )


def _clean(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Upper-cased pairs by leader root; raises :class:`ApplicationError`
    (``field`` "mappings") for an unknown product, a product mapped to
    itself, or a leader product mapped twice."""
    known = set(ContractSpec.objects.values_list("root", flat=True))
    cleaned: dict[str, str] = {}
    for raw_leader, raw_follower in pairs:
        leader, follower = raw_leader.strip().upper(), raw_follower.strip().upper()
        for root in (leader, follower):
            if not _ROOT.match(root) or root not in known:
                raise ApplicationError(
                    f"{root or 'an empty product'} is not a product with a contract "
                    f"specification (known: {', '.join(sorted(known))})",
                    field="mappings",
                )
        if leader == follower:
            raise ApplicationError(
                f"{leader} \u2192 {leader} maps a product to itself: without a mapping the "
                "follower already trades the leader's product",
                field="mappings",
            )
        if leader in cleaned:
            raise ApplicationError(
                f"{leader} is mapped twice ({cleaned[leader]} and {follower}): one follower "
                "product per leader product",
                field="mappings",
            )
        cleaned[leader] = follower
    return dict(sorted(cleaned.items()))


@transaction.atomic
def contract_mappings_set(
    *, group: CopyGroup, actor: User, pairs: Iterable[tuple[str, str]], reason: str = ""
) -> bool:
    """Make ``group``'s mappings exactly ``pairs`` ((leader root, follower
    root), any case); return whether anything changed.

    Every root must have a contract specification (:class:`ContractSpec`);
    a product never maps to itself nor twice. Only a change is saved and
    journaled (``contract_mapping.changed``, ``before`` / ``after`` as
    leader -> follower dicts). Raises :class:`ApplicationError` for bad
    pairs (``field`` "mappings") or when ``actor`` is neither the group's
    owner nor staff holding ``routing.change_copygroup`` giving a reason
    (:func:`copytrade.core.actors.actor_reason_check`).
    """
    reason = actor_reason_check(
        actor=actor,
        owner_id=group.owner_id,
        perm="routing.change_copygroup",
        reason=reason,
        refusal="only the owner of a copy group may change its contract mappings",
    )
    wanted = _clean(pairs)
    BrokerAccount.objects.select_for_update().filter(pk=group.leader_id).first()
    locked = CopyGroup.objects.select_for_update().filter(pk=group.pk).first()
    if locked is None:
        raise ApplicationError(f"copy group {group.name!r} no longer exists")
    rows = {
        row.leader_root: row
        for row in ContractMapping.objects.select_for_update().filter(group=locked)
    }
    before = {leader: row.follower_root for leader, row in sorted(rows.items())}
    if before == wanted:
        return False
    gone = [row.pk for leader, row in rows.items() if leader not in wanted]
    if gone:
        ContractMapping.objects.filter(pk__in=gone).delete()
    for leader, follower in wanted.items():
        row = rows.get(leader)
        if row is None:
            ContractMapping.objects.create(group=locked, leader_root=leader, follower_root=follower)
        elif row.follower_root != follower:
            row.follower_root = follower
            row.save(update_fields=["follower_root", "updated_at"])
    # The signals bumped the version for each saved row; a queryset delete
    # may send none (no per-row signal when Django can fast-delete).
    route_config_bump()
    journal_record(
        owner_id=locked.owner_id,
        event_type=EventType.CONTRACT_MAPPINGS_CHANGED,
        group_id=locked.pk,
        account_id=locked.leader_id,
        actor_label=actor.get_username(),
        actor_user_id=actor.pk,
        message=(
            f"Contract mappings of {locked.name!r} changed: {_pairs_text(before)} \u2192 "
            f"{_pairs_text(wanted)}{actor_note(actor, locked.owner_id, reason)}"
        ),
        before=before,
        after=wanted,
        extra_data={"reason": reason} if reason else None,
    )
    return True
