"""How work reaches a worker and news reaches a stream. Against a real Redis: an idle Dramatiq consumer waits for the
enqueue's notice instead of polling, and a job's committed change reaches the API's stream watcher without a database
poll. And a worker thread holds one message at a time."""

import asyncio
import threading
import time

import pytest
from dramatiq import Message

from api.db import dispose_all, get_sessionmaker
from api.events import JobWatch, publish_changes
from api.settings import Settings
from api.worker.broker import make_broker
from tests.api.servers import start_redis, stop


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    proc, port = start_redis(tmp_path_factory.mktemp("redis"))
    yield f"redis://127.0.0.1:{port}/0"
    stop(proc)


@pytest.mark.heavy
def test_idle_consumer_sleeps_until_a_job_is_sent(redis_url):
    broker = make_broker(Settings(broker_url=redis_url))
    consumer = broker.consume("separate", prefetch=1, timeout=5000)
    try:
        assert next(consumer) is None  # empty: the next call waits on the queue's channel
        sent = []

        def send_later() -> None:
            time.sleep(0.5)
            sent.append(time.monotonic())
            broker.enqueue(Message(queue_name="separate", actor_name="separate_job", args=("req_x",), kwargs={},
                                   options={}))

        threading.Thread(target=send_later).start()
        calls, message = 0, None
        while message is None and calls < 1000:
            message, calls = next(consumer), calls + 1
        received = time.monotonic()
        assert message is not None and tuple(message.args) == ("req_x",)
        assert calls == 1  # one blocking wait, not a poll loop (Dramatiq's own consumer returns every 5..1000 ms)
        assert received - sent[0] < 0.25  # woken by the notice, long before the 5 s poll timeout
        consumer.ack(message)
    finally:
        consumer.close()
        broker.close()


@pytest.mark.heavy
def test_committed_job_change_wakes_its_watchers(redis_url, tmp_path):
    from api import crud

    sessions = get_sessionmaker(f"sqlite:///{tmp_path / 'lasso.db'}")
    publish_changes(sessions, redis_url)
    with sessions() as s:
        key, _ = crud.create_api_key(s, scopes=["audio:separate"])
        crud.create_job(s, job_id="req_w", owner_id=key.id, params={"prompt": "x"}, input_key="k", input_name="a.wav",
                        base_url="http://t", metadata=None, webhook_url=None, webhook_secret=None, reserved=None)
        s.commit()

    async def follow() -> tuple[bool, bool]:
        watch = JobWatch(redis_url)
        with watch.watching("req_w") as changed, watch.watching("req_other") as unrelated:
            while not watch.live:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(_log_line, sessions)
            await asyncio.wait_for(changed.wait(), 2.0)
            return changed.is_set(), unrelated.is_set()

    assert asyncio.run(follow()) == (True, False)
    dispose_all()


def _log_line(sessions) -> None:
    from api import crud

    with sessions() as s:
        crud.add_log(s, job_id="req_w", message="started")
        s.commit()


def test_a_worker_holds_one_message_per_thread():
    """Dramatiq prefetches two messages per thread: a job could wait inside a busy worker while another idles."""
    import dramatiq

    from api.worker.middleware import OneMessagePerThread

    broker = make_broker(Settings(broker_url="stub://"))
    broker.add_middleware(OneMessagePerThread())
    worker = dramatiq.Worker(broker, worker_threads=3, worker_timeout=50)
    worker.start()
    try:
        assert {q: c.prefetch for q, c in worker.consumers.items() if not q.endswith(".DQ")} == \
            {"separate": 3, "webhooks": 3}
    finally:
        worker.stop()
        broker.close()
