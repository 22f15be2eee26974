"""The Dramatiq broker from LASSO_BROKER_URL (redis://, amqp://, stub:// in unit tests) and the messages we send.

Messages are built by name (`separate_job`, `deliver_webhook`, ...) so that senders need not import the actors
module, which loads the model library.
"""

import time

import dramatiq
import redis
from dramatiq import Broker, Message
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.brokers.stub import StubBroker
from dramatiq.errors import ConnectionClosed

from api.settings import Settings

SEPARATE_QUEUE = "separate"
WEBHOOK_QUEUE = "webhooks"
QUEUES = (SEPARATE_QUEUE, WEBHOOK_QUEUE)  # maintenance runs in a thread per worker (worker/middleware.py)

_broker: Broker | None = None


def make_broker(settings: Settings) -> Broker:
    url = settings.broker_url or "redis://127.0.0.1:6379/0"
    if url.startswith("stub:"):
        broker: Broker = StubBroker()
        broker.emit_after("process_boot")
    elif url.startswith(("redis://", "rediss://", "unix://")):
        # a worker that stops heart-beating for this long has its unacked messages requeued by the others
        broker = WakingRedisBroker(url=url, heartbeat_timeout=settings.broker_heartbeat_timeout_ms,
                                   maintenance_chance=50_000)
    elif url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        # publisher confirms: a send returns once RabbitMQ holds the message (as a Redis write does), so a submit
        # that gets 202 is queued, and a send into a connection the broker dropped fails and is retried by Dramatiq.
        # A worker that dies loses its connection, and RabbitMQ requeues its unacked messages at once.
        broker = RabbitmqBroker(url=url, confirm_delivery=True)
    else:
        raise ValueError(f"unsupported LASSO_BROKER_URL: {url!r} (use redis://, amqp:// or stub://)")
    for queue in QUEUES:
        broker.declare_queue(queue)
    return broker


class WakingRedisBroker(RedisBroker):
    """Dramatiq's Redis broker whose idle consumers are woken by a Redis pub/sub message sent with each enqueue.

    Dramatiq's Redis consumer polls an empty queue with a back-off growing to the worker timeout (1 s), so an idle
    worker took a new job 160-230 ms (p50) after its submit. Here an idle consumer waits on its queue's channel
    instead (and still polls once per timeout, so a lost publish costs at most that); a busy one looks for its next
    message every few milliseconds rather than up to every second, so a worker that finishes a job takes the next
    at once (Dramatiq's prefetch of two per thread hid that delay, at the cost of a job waiting in a busy worker).
    """

    @property
    def consumer_class(self):
        return _WakingConsumer

    def wakeup_channel(self, queue_name: str) -> str:
        return f"{self.namespace}:wakeup:{queue_name}"

    def enqueue(self, message: Message, *, delay: int | None = None) -> Message:
        message = super().enqueue(message, delay=delay)
        if delay is None:  # delayed messages are held by the delay-queue consumers until due: nobody to wake
            self.client.publish(self.wakeup_channel(message.queue_name), b"")
        return message


class _WakingConsumer(_RedisConsumer):
    BUSY_POLL_MISSES = 0  # while every prefetch slot is taken, look again every 2.5-5 ms (no I/O: no message
    # can be fetched until the running one is acknowledged, which this thread does between two calls)

    def __init__(self, broker: WakingRedisBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)
        self.pubsub = broker.client.pubsub(ignore_subscribe_messages=True)
        try:
            self.pubsub.subscribe(broker.wakeup_channel(queue_name))
        except redis.ConnectionError as exc:  # Dramatiq retries the consumer
            raise ConnectionClosed(exc) from None
        self.idle = False

    def __next__(self):
        try:
            if self.idle:  # the queue was empty: sleep until a sender publishes (or a timeout passes)
                deadline = time.monotonic() + self.timeout / 1000
                while (left := deadline - time.monotonic()) > 0:
                    if self.pubsub.get_message(timeout=left) is not None:  # None: timeout, or a (un)subscribe reply
                        break
                while self.pubsub.get_message(timeout=0.0) is not None:
                    pass  # one fetch serves every wake-up that arrived meanwhile
        except redis.ConnectionError as exc:
            raise ConnectionClosed(exc) from None
        could_fetch = not self.message_cache and self.outstanding_message_count < self.prefetch
        self.misses = 0 if self.idle else min(self.misses, self.BUSY_POLL_MISSES)
        message = super().__next__()
        self.idle = message is None and could_fetch
        return message

    def close(self) -> None:
        self.pubsub.close()
        super().close()


def get_broker(settings: Settings) -> Broker:
    """The process's broker, created on first use and installed as Dramatiq's global broker."""
    global _broker
    if _broker is None:
        _broker = make_broker(settings)
        dramatiq.set_broker(_broker)
    return _broker


def reset_broker() -> None:
    """Forget the process's broker (tests switch settings between cases)."""
    global _broker
    if _broker is not None:
        _broker.close()
    _broker = None


def send(broker: Broker, queue: str, actor: str, *args, delay_ms: int | None = None, **options) -> Message:
    """Enqueue a call of `actor` by name."""
    message = Message(queue_name=queue, actor_name=actor, args=args, kwargs={}, options=options)
    return broker.enqueue(message, delay=delay_ms)


def enqueue_separation(broker: Broker, job_id: str) -> Message:
    return send(broker, SEPARATE_QUEUE, "separate_job", job_id)


def enqueue_webhook(broker: Broker, job_id: str, settings: Settings) -> Message:
    """A delivery whose failed attempts Dramatiq's Retries middleware sends again with its own exponential backoff
    (the options ride on the message, so they follow the settings of the process that sends it)."""
    return send(broker, WEBHOOK_QUEUE, "deliver_webhook", job_id, min_backoff=int(settings.webhook_backoff * 1000),
                max_backoff=int(settings.webhook_backoff_max * 1000))
