"""Worker-process middleware: load the Separator once per process, and run periodic maintenance.

Dramatiq has no scheduler, so each worker process runs a small maintenance thread (stuck-job reconciliation and
retention cleanup). Every step is a conditional UPDATE or an idempotent delete, so several workers doing it at once
is safe; it is what recovers jobs whose worker was killed.
"""

import logging
import threading

from dramatiq import Broker, Middleware, Worker

log = logging.getLogger("api.worker")


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
