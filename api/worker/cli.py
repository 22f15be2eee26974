"""`lasso worker`: Dramatiq worker processes for the queues, sharing the work of a running service.

Connects to LASSO_BROKER_URL, LASSO_DATABASE_URL and LASSO_STORAGE_URL (the same values as the API). The process
exits when any of its worker processes dies; `lasso serve` (or systemd, Kubernetes...) restarts it, and jobs the
dead process held are recovered by the reconciliation of the surviving workers.
"""

import argparse
import os
import sys

from api.worker.broker import QUEUES, SEPARATE_QUEUE, WEBHOOK_QUEUE


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lasso worker", description=__doc__.split("\n\n")[0],
                                epilog="Environment: LASSO_BROKER_URL, LASSO_DATABASE_URL, LASSO_STORAGE_URL, "
                                       "LASSO_CHECKPOINT, LASSO_DEVICE (see the README's \"Scale-out\").")
    p.add_argument("--processes", "-p", type=int, default=None, help="worker processes (default LASSO_WORKER_PROCESSES"
                                                                    " or 1); each loads the model once")
    p.add_argument("--threads", "-t", type=int, default=None, help="jobs at once per process (default 1); webhooks "
                                                                  "have LASSO_WEBHOOK_THREADS more")
    p.add_argument("--queues", "-Q", nargs="+", default=list(QUEUES), choices=QUEUES, help="queues to consume")
    p.add_argument("--verbose", "-v", action="count", default=0, help="more logging")
    return p


def main(argv: list[str] | None = None) -> int:
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    from api.settings import get_settings

    args = get_parser().parse_args(argv)
    settings = get_settings()
    processes = args.processes or settings.worker_processes
    threads = args.threads or settings.worker_threads
    os.environ.setdefault("LASSO_HOME", str(settings.home))
    queues = list(dict.fromkeys(args.queues))
    if SEPARATE_QUEUE in queues and WEBHOOK_QUEUE in queues and settings.webhook_threads > 0:
        queues.remove(WEBHOOK_QUEUE)  # delivered by threads of their own (middleware.WebhookThreads)
    elif WEBHOOK_QUEUE not in queues:
        os.environ["LASSO_WEBHOOK_THREADS"] = "0"  # this worker was asked not to deliver webhooks
    dargs = ["api.worker.actors", "--processes", str(processes), "--threads", str(threads), "--queues",
             *queues, "--worker-shutdown-timeout", str(int(settings.shutdown_grace * 1000))]
    dargs += ["-v"] * args.verbose
    return dramatiq_main(make_argument_parser().parse_args(dargs))


if __name__ == "__main__":
    sys.exit(main())
