"""Replay jobs: an imported export streamed into a group's leader, paced."""

from __future__ import annotations

from django.db import transaction

from copytrade.core.errors import ApplicationError
from journal.models import EventType, ExportImport
from journal.services import journal_record
from routing.models import CopyGroup, ReplayJob


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
    belongs to another user.
    """
    if export_import.owner_id != group.owner_id:
        raise ApplicationError("the export belongs to another user")
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
