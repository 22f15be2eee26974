"""SSE status streams a key holds open at once in this API process: each holds a connection and polls the database,
so a key gets `max_streams_per_key` of them (429 beyond). Replicas count their own streams."""

import threading
from collections import Counter
from collections.abc import AsyncIterator

from api.errors import QuotaExceeded


class Slot:
    """One open stream of a key; given back once, when the stream ends or never starts."""

    def __init__(self, slots: "StreamSlots", key_id: str) -> None:
        self.slots, self.key_id, self.open = slots, key_id, True

    def release(self) -> None:
        with self.slots.lock:
            if self.open:
                self.open = False
                self.slots.held[self.key_id] -= 1

    async def hold(self, events: AsyncIterator[str]) -> AsyncIterator[str]:
        try:
            async for event in events:
                yield event
        finally:
            self.release()


class StreamSlots:
    def __init__(self) -> None:
        self.lock, self.held = threading.Lock(), Counter()

    def take(self, key_id: str, limit: int) -> Slot:
        with self.lock:
            if self.held[key_id] >= limit:
                raise QuotaExceeded(f"this API key has {limit} status streams open, its limit; close one or poll "
                                    "the status URL", code="TOO_MANY_STREAMS")
            self.held[key_id] += 1
        return Slot(self, key_id)
