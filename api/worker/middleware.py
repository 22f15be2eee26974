"""Worker-process middleware: load the Separator once per process, run periodic maintenance, take one message per
thread, announce job changes, and stop with the master process.

Dramatiq has no scheduler, so each worker process runs a small maintenance thread (stuck-job reconciliation and
retention cleanup). Every step is a conditional UPDATE or an idempotent delete, so several workers doing it at once
is safe; it is what recovers jobs whose worker was killed.
"""

import logging
import multiprocessing
import os
import signal
import threading

from dramatiq import Broker, Middleware, Worker

log = logging.getLogger("api.worker")


class OneMessagePerThread(Middleware):
    """Prefetch one message per worker thread instead of Dramatiq's two: a message waiting in a busy worker's memory
    is a job another, idle worker could be running."""

    def before_worker_boot(self, broker: Broker, worker: Worker) -> None:
        worker.queue_prefetch = worker.worker_threads


class StopWithMaster(Middleware):
    """A worker process stops gracefully (as on SIGTERM) when its Dramatiq master dies, even by SIGKILL, instead of
    running on as an orphan holding the model.

    The kernel's parent-death signal is SIGUSR1, turned into one SIGTERM here: it can arrive more than once (the
    master has threads), and Dramatiq reads a second SIGTERM as "exit now".
    """

    def after_process_boot(self, broker: Broker) -> None:
        from api.supervise import die_with_parent

        parent = multiprocessing.parent_process()
        if parent is None:  # not a worker process of `dramatiq` (a test's in-process worker)
            return
        fired = threading.Event()

        def master_gone(signum, frame) -> None:
            if not fired.is_set():
                fired.set()
                os.kill(os.getpid(), signal.SIGTERM)

        signal.signal(signal.SIGUSR1, master_gone)
        die_with_parent(parent.pid, signal.SIGUSR1)


class PublishJobChanges(Middleware):
    """Announce each job this process changes, so the API's SSE streams send the change at once (api/events.py)."""

    def after_process_boot(self, broker: Broker) -> None:
        from api.events import publish_changes, redis_url
        from api.worker.context import get_context

        ctx = get_context()
        url = redis_url(ctx.settings)
        if url:
            publish_changes(ctx.sessions, url)


class SeparatorLoader(Middleware):
    """Loads the model at process boot, before the first message, so no job pays for it."""

    def after_process_boot(self, broker: Broker) -> None:
        from api.worker.context import get_context

        try:
            get_context().separator()
            log.info("model loaded (LASSO_CHECKPOINT=%s)", get_context().settings.checkpoint or "default")
        except Exception:  # jobs will fail with MODEL_LOAD_FAILED, which tells the user more than a dead worker
            log.exception("could not load the model")


class Maintenance(Middleware):
    """A daemon thread per worker process running `maintenance.run_once` every `maintenance_interval` seconds."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        from api.worker import maintenance
        from api.worker.context import get_context

        interval = get_context().settings.maintenance_interval

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    maintenance.run_once()
                except Exception:
                    log.exception("maintenance pass failed")

        self._stop.clear()
        self._thread = threading.Thread(target=loop, daemon=True, name="lasso-maintenance")
        self._thread.start()

    def before_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        self._stop.set()
