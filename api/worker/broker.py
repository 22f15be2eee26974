"""The Dramatiq broker from LASSO_BROKER_URL (redis://, amqp://, stub:// in unit tests) and the messages we send.

Messages are built by name (`separate_job`, `deliver_webhook`, ...) so that senders need not import the actors
module, which loads the model library.
"""

import dramatiq
from dramatiq import Broker, Message
from dramatiq.brokers.stub import StubBroker

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
        from dramatiq.brokers.redis import RedisBroker

        # a worker that stops heart-beating for this long has its unacked messages requeued by the others
        broker = RedisBroker(url=url, heartbeat_timeout=settings.broker_heartbeat_timeout_ms,
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
