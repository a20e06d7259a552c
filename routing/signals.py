"""Keep the engine workers' in-memory routes current.

Every save or delete of a row the workers cache (``routing.services.route_state``)
bumps :class:`routing.models.RouteConfigVersion` in the same transaction,
whoever made it: a service, the Django admin, a shell. Queryset ``update()``
calls send no signal: the services that use one on these tables call
:func:`routing.services.route_state.route_config_bump` themselves.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from accounts.models import BrokerAccount
from routing.models import ContractMapping, ContractSpec, CopyGroup, Follower, RiskLimit
from routing.services.route_state import route_config_bump

CACHED_MODELS = (BrokerAccount, ContractMapping, ContractSpec, CopyGroup, Follower, RiskLimit)


def _changed(sender: type, **kwargs: Any) -> None:
    if kwargs.get("raw"):  # fixtures loading: no cache to keep current yet
        return
    route_config_bump()


def connect() -> None:
    """Connect the bump to every cached model (called once from the app config)."""
    for model in CACHED_MODELS:
        post_save.connect(
            _changed, sender=model, dispatch_uid=f"route-config-save-{model.__name__}"
        )
        post_delete.connect(
            _changed, sender=model, dispatch_uid=f"route-config-delete-{model.__name__}"
        )
