"""An engine worker's heartbeat carries its adapters' connection state."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async as sync_to_async

from routing.brokers.paper import PaperBroker
from routing.models import EngineWorkerHeartbeat
from routing.runtime import embedded
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs, engine_status


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_beat_when_paper_connected_then_disconnected_then_recorded_each_time() -> None:
    # Arrange
    specs = await sync_to_async(engine_contract_specs)()
    registry = AdapterRegistry({"paper": PaperBroker(specs)})
    await registry.connect_all()
    worker = EngineWorker(registry, worker_id="beat-test")
    # Act
    await worker.beat()
    first = await sync_to_async(EngineWorkerHeartbeat.objects.get)(worker_id="beat-test")
    await registry.paper.disconnect()
    await worker.beat()
    second = await sync_to_async(EngineWorkerHeartbeat.objects.get)(worker_id="beat-test")
    # Assert
    assert first.adapters == {"paper": True}
    assert second.adapters == {"paper": False}
    assert second.seen_at >= first.seen_at


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_embedded_engine_when_started_then_running_with_paper_connected_and_down_after_stop(
    settings,
) -> None:
    # Arrange: the embedded default, started as the web server starts it.
    settings.ENGINE_EMBEDDED = True
    embedded.ensure_embedded_worker()
    task, stop = embedded._worker_task, embedded._stop
    assert task is not None and stop is not None
    try:
        # Act: wait for its first beat.
        status = await sync_to_async(engine_status)()
        for _ in range(100):
            if status.status == "running" or task.done():
                break
            await asyncio.sleep(0.05)
            status = await sync_to_async(engine_status)()
        # Assert
        assert (status.status, status.workers) == ("running", 1)
        beat = await sync_to_async(EngineWorkerHeartbeat.objects.get)()
        assert beat.adapters == {"paper": True}
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    assert (await sync_to_async(engine_status)()).status == "down"  # a clean stop
