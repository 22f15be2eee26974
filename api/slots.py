"""What a key holds open at once in this API process, each a connection or a request thread for its whole life:
SSE status streams (`max_streams_per_key`) and `audio_url` downloads at submit (`max_fetches_per_key`). Past the
limit the request is a 429; replicas count their own."""

import threading
from collections import Counter
from collections.abc import AsyncIterator

from api.errors import QuotaExceeded


class Slot:
    """One open thing of a key; given back once, when it ends (or, for a stream, never starts)."""

    def __init__(self, slots: "KeySlots", key_id: str) -> None:
        self.slots, self.key_id, self.open = slots, key_id, True

    def release(self) -> None:
        with self.slots.lock:
            if self.open:
                self.open = False
                self.slots.held[self.key_id] -= 1

    def __enter__(self) -> "Slot":
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    async def hold(self, events: AsyncIterator[str]) -> AsyncIterator[str]:
        try:
            async for event in events:
                yield event
        finally:
            self.release()


class KeySlots:
    """Counts per key of one kind of open thing; `what` names it in the 429's message."""

    def __init__(self, what: str, code: str) -> None:
        self.what, self.code = what, code
        self.lock, self.held = threading.Lock(), Counter()

    def take(self, key_id: str, limit: int) -> Slot:
        with self.lock:
            if self.held[key_id] >= limit:
                raise QuotaExceeded(f"this API key has {limit} {self.what}, its limit; try again when one has ended",
                                    code=self.code)
            self.held[key_id] += 1
        return Slot(self, key_id)
