"""The web process's import reader, for when Celery tasks run eagerly.

In the embedded default (no ``REDIS_URL``) a Celery task runs inside the
caller, so an uploaded export read by a task would hold the request for the
whole parse, the defect this replaces (issue 10, defect 9). Instead the
request hands the job to this one background thread: jobs are read one at a
time, in the order they were uploaded, which also bounds the memory that
reading takes. The thread is a daemon: stopping the server does not wait
for a long file, and the job it was reading is ended by
``routing.services.import_jobs.import_jobs_expire`` later.
"""

from __future__ import annotations

import logging
import queue
import threading

from django.db import connections

logger = logging.getLogger(__name__)


class ImportThread:
    """A queue of import job ids and the one thread that reads them."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, job_id: int) -> None:
        """Queue ``job_id`` for :func:`import_job_run`; starts the thread if needed."""
        self._ensure_started(resume=False)
        self._queue.put(job_id)

    def resume(self) -> None:
        """Start the thread (if not running) and have it first take up what a
        previous run of this process left: jobs still pending are read, jobs
        it was reading when it stopped end FAILED with the reason
        (``import_jobs_resume``). For the embedded default, where this
        thread is the only reader; called when the web process starts."""
        self._ensure_started(resume=True)

    def _ensure_started(self, *, resume: bool) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, args=(resume,), name="import-jobs", daemon=True
                )
                self._thread.start()

    def _run(self, resume: bool) -> None:
        # services import this module: import them here, once running
        from routing.services.import_jobs import import_job_run, import_jobs_resume

        if resume:
            try:
                for job_id in import_jobs_resume():
                    self._queue.put(job_id)
            except Exception:
                # The database may be down at start; the jobs then expire
                # (import_jobs_expire) and say so on the page.
                logger.exception("resuming import jobs failed")
            finally:
                connections.close_all()
        while True:
            job_id = self._queue.get()
            try:
                import_job_run(job_id=job_id)
            except Exception:
                # import_job_run records its own failures on the job; this
                # keeps the thread alive for the next job whatever happened.
                logger.exception("import job %s: the reader stopped", job_id)
            finally:
                # This thread's connection: closed between jobs, as a
                # request's is, so none is left open while the queue is idle.
                connections.close_all()


import_thread = ImportThread()
