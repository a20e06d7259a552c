"""Replay jobs: an imported export streamed into a group's leader, paced."""

from __future__ import annotations

from django.db import transaction

from accounts.models import BrokerAccount
from copytrade.core.errors import ApplicationError
from journal.models import EventType, ExportImport
from journal.services import journal_record
from routing.models import CopyGroup, Follower, ReplayJob


@transaction.atomic
def replay_job_create(
    *,
    group: CopyGroup,
    export_import: ExportImport,
    interval_ms: int,
    actor_label: str,
    simulated: bool = False,
    repeat: bool = False,
    label: str = "",
) -> ReplayJob:
    """Queue ``export_import``'s leader fills to stream into ``group``'s leader,
    one fill every ``interval_ms`` milliseconds; the engine worker picks it up.

    Raises ``ApplicationError`` when the import has no replayable fills or
    belongs to another user, and when the replay could reach anything but
    the group's own simulated exchange: a leader that is not a paper
    account (a replay is streamed through the paper exchange) or a follower
    of the leader on a real platform (a replay must never send an order to
    a real account).
    """
    if export_import.owner_id != group.owner_id:
        raise ApplicationError("the export belongs to another user")
    leader = group.leader
    if leader.platform != BrokerAccount.Platform.PAPER:
        raise ApplicationError(
            f"{leader.name} is a {leader.get_platform_display()} account: "
            "replays run only into paper leaders"
        )
    real = (
        Follower.objects.filter(group__leader_id=leader.pk)
        .exclude(account__platform=BrokerAccount.Platform.PAPER)
        .select_related("account")
        .order_by("pk")
        .first()
    )
    if real is not None:
        raise ApplicationError(
            f"{real.account.name} is a {real.account.get_platform_display()} account "
            f"following {leader.name}: replays trade paper accounts only"
        )
    if not export_import.replayable or not export_import.fills:
        raise ApplicationError(f"{export_import.file_name} has no leader fills to replay")
    if interval_ms < 0:
        raise ApplicationError("interval must be ≥ 0 ms", field="interval_ms")
    job = ReplayJob.objects.create(
        owner_id=group.owner_id,
        group=group,
        export_import=export_import,
        label=label or export_import.file_name,
        simulated=simulated,
        interval_ms=interval_ms,
        repeat=repeat,
    )
    kind = "simulated session" if simulated else export_import.file_name
    journal_record(
        owner_id=group.owner_id,
        event_type=EventType.REPLAY_STARTED,
        group_id=group.pk,
        account_id=group.leader_id,
        actor_label=actor_label,
        message=(
            f"Replay of {kind} queued into {group.name!r}: "
            f"{export_import.fill_count} leader fills, one every {interval_ms} ms"
        ),
        extra_data={"replay_job": job.pk, "import_id": export_import.pk},
    )
    return job
