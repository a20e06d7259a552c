"""Which prices each paper account sees: one venue per leader's routes.

The paper exchange keeps one price stream per venue
(:meth:`routing.brokers.paper.PaperBroker.assign_venue`). A leader and every
account that follows it trade on the venue named after that leader, so the
prices a replay or a leader's fills print move only the positions that copy
that leader: one user's upload can never mark, halt or flatten another
user's account, nor another route of the same user (issue 10, defect 2).
Accounts in no route get a venue of their own, which nothing prints on.
Accounts on other platforms never see paper prices at all: their marks come
from their own platform.
"""

from __future__ import annotations

from accounts.models import BrokerAccount
from routing.brokers.paper import PaperBroker
from routing.models import Follower
from routing.services.route_state import ConfigKey, route_config_key


def route_venue(leader_id: int) -> str:
    """The venue of leader account ``leader_id``'s routes (its followers and itself)."""
    return f"route-{leader_id}"


def paper_venues() -> dict[str, str]:
    """Paper account external id -> venue: the venue of the leader it
    follows (an account follows at most one group), else its own. Two
    statements; reads only."""
    followed = dict(
        Follower.objects.filter(account__platform=BrokerAccount.Platform.PAPER).values_list(
            "account_id", "group__leader_id"
        )
    )
    accounts = BrokerAccount.objects.filter(platform=BrokerAccount.Platform.PAPER).values_list(
        "pk", "external_id"
    )
    return {external_id: route_venue(followed.get(pk, pk)) for pk, external_id in accounts}


class VenueKeeper:
    """Keeps a paper exchange's venue assignments equal to the routes.

    :meth:`refresh` re-reads them when the route configuration version moved
    (every account, follower and group change bumps it), so an account moved
    to another group sees that group's prices from the next pass on.
    """

    def __init__(self, paper: PaperBroker) -> None:
        self._paper = paper
        self._key: ConfigKey | None = None
        self._loaded = False

    def refresh(self) -> None:
        """Assign every paper account its venue if the routes changed since
        the last call. Synchronous ORM reads: call from a thread in async code."""
        key = route_config_key()
        if self._loaded and key is not None and key == self._key:
            return
        for account, venue in paper_venues().items():
            self._paper.assign_venue(account, venue)
        self._key, self._loaded = key, True
