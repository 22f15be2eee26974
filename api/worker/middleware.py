"""Worker-process middleware: load the Separator once per process, run periodic maintenance, deliver webhooks on
threads of their own, take one message per thread, announce job changes, and stop with the master process.

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
        except Exception:  # jobs retry it after a back-off (context.ModelUnavailable); a dead worker would tell less
            log.exception("could not load the model")


class Maintenance(Middleware):
    """A daemon thread per worker process running `maintenance.run_once` every `maintenance_interval` seconds."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._worker: Worker | None = None

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        from api.worker import maintenance
        from api.worker.context import get_context

        if self._worker is not None:  # a second Worker in the process (WebhookThreads) shares the first one's thread
            return
        self._worker = worker
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
        if worker is self._worker:
            self._stop.set()
            self._worker = None


class WebhookThreads(Middleware):
    """A second Dramatiq Worker in the process for the webhooks queue, with `webhook_threads` threads of its own.

    A receiver that answers slowly then holds one of these, never a separation thread. It starts beside a worker
    that consumes the separate queue but not the webhooks queue (`lasso worker` asks for that); a worker that
    consumes every queue (tests, `webhook_threads=0`) delivers webhooks itself.
    """

    def __init__(self) -> None:
        self.worker: Worker | None = None

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        from api.worker.broker import SEPARATE_QUEUE, WEBHOOK_QUEUE
        from api.worker.context import get_context

        queues = worker.consumer_whitelist or set()
        threads = get_context().settings.webhook_threads
        if worker is self.worker or SEPARATE_QUEUE not in queues or WEBHOOK_QUEUE in queues or threads < 1:
            return
        self.worker = Worker(broker, queues={WEBHOOK_QUEUE}, worker_threads=threads)
        self.worker.start()
        log.info("delivering webhooks on %d threads of their own", threads)

    def before_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        if self.worker is not None and worker is not self.worker:
            self.worker.stop()
            self.worker = None
