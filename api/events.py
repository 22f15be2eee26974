"""Job-change notices over Redis pub/sub: a worker publishes the id of a job it changed, and each API process wakes
the SSE streams following that job, which then read the job from the database.

A notice only says "look again", so a lost one costs a poll, never a wrong status. Every state change of a job writes
a job log line in the same transaction (`crud.add_log`), so the committed log lines are what is announced. Without a
Redis broker (RabbitMQ, the unit tests' stub) nothing is published and the streams poll at their interval.
"""

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Iterator

import redis
import redis.asyncio
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from api.models import JobLog
from api.settings import Settings

log = logging.getLogger("api")
CHANNEL = "lasso:job-changes"


def redis_url(settings: Settings) -> str | None:
    url = settings.broker_url or ""
    return url if url.startswith(("redis://", "rediss://", "unix://")) else None


def publish_changes(sessions: sessionmaker, url: str) -> None:
    """After each commit of a session from `sessions`, announce the jobs it wrote log lines for.

    The commit only queues the ids: a thread publishes them, so a job never waits on Redis for its notices (done
    inline, three round trips per job cost a fifth of the debug model's jobs per minute).
    """
    outbox: queue.SimpleQueue[str] = queue.SimpleQueue()
    threading.Thread(target=_publish_forever, args=(outbox, redis.Redis.from_url(url)), daemon=True,
                     name="lasso-job-notices").start()

    @event.listens_for(sessions, "after_flush")
    def collect(session: Session, _ctx) -> None:
        jobs = session.info.setdefault("changed_jobs", set())
        jobs.update(row.job_id for row in session.new if isinstance(row, JobLog))

    @event.listens_for(sessions, "after_commit")
    def announce(session: Session) -> None:
        for job_id in session.info.pop("changed_jobs", ()):
            outbox.put(job_id)

    @event.listens_for(sessions, "after_rollback")
    def forget(session: Session) -> None:
        session.info.pop("changed_jobs", None)


def _publish_forever(outbox: "queue.SimpleQueue[str]", client: redis.Redis) -> None:
    while True:
        ids = {outbox.get()}
        while not outbox.empty():
            ids.add(outbox.get_nowait())
        try:
            with client.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.publish(CHANNEL, job_id)
                pipe.execute()
        except redis.RedisError as exc:  # streams fall back to polling
            log.debug("job change notices for %s not sent: %s", sorted(ids), exc)


class JobWatch:
    """One subscription per API process, fanned out to the streams waiting on each job."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.live = False  # subscribed: streams may rely on notices and poll rarely
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task | None = None

    @contextlib.contextmanager
    def watching(self, job_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever `job_id` may have changed, for as long as the block runs."""
        if self.url and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._listen())
        changed = asyncio.Event()
        self._waiters.setdefault(job_id, set()).add(changed)
        try:
            yield changed
        finally:
            waiters = self._waiters.get(job_id, set())
            waiters.discard(changed)
            if not waiters:
                self._waiters.pop(job_id, None)

    async def _listen(self) -> None:
        while True:
            client = redis.asyncio.Redis.from_url(self.url)
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self.live = True
                    async for notice in pubsub.listen():
                        for changed in self._waiters.get(notice["data"].decode(), ()):
                            changed.set()
            except (redis.RedisError, OSError) as exc:
                log.warning("job change notices unavailable (%s); streams poll until they are back", exc)
            finally:
                self.live = False
                await client.aclose()
            await asyncio.sleep(1.0)
