"""What the dashboard's views share to find the rows a URL names: the
user's own copy group and its follower, or a 404 (another user's group is
as absent as one that never existed), and the message a refused race shows."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from routing.models import CopyGroup, Follower
from routing.selectors import group_for_user

# Shown when a unique constraint or route trigger refuses a write that the
# form's checks let through: another request changed the same rows meanwhile.
RACE_MESSAGE = "Another change to your groups got there first; check the form and submit again."


def group_or_404(request: HttpRequest, group_id: int) -> CopyGroup:
    """The request user's copy group ``group_id``; raises ``Http404`` for
    one that is missing or another user's."""
    group = group_for_user(user=request.user, group_id=group_id)  # type: ignore[arg-type]
    if group is None:
        raise Http404("No such copy group")
    return group


def follower_or_404(group: CopyGroup, follower_id: int) -> Follower:
    """Follower ``follower_id`` of ``group`` with its account (and ``group``
    set on it); raises ``Http404`` when it does not follow ``group``."""
    follower = (
        Follower.objects.filter(group=group, pk=follower_id).select_related("account").first()
    )
    if follower is None:
        raise Http404("No such follower")
    follower.group = group
    return follower
