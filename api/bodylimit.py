"""Request bodies are bounded before anything reads them: by Content-Length, then by counting what arrives.

FastAPI parses a JSON body before the key dependency runs, so without this an anonymous client makes the API hold
any amount of memory. JSON routes get `max_json_body` (64 KiB), buffered here and replayed to the app; the signed
upload PUT and the workbench get `max_upload_bytes` by Content-Length (the PUT also counts its own stream against
the size its file declared, writing to disk as it goes).
"""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.settings import Settings

LARGE_BODY_PATHS = ("/v1/uploads/", "/ui")


class BodyLimit:
    """ASGI middleware answering 413 `REQUEST_TOO_LARGE` (the spec's error body) for oversized bodies."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        large = scope["path"].startswith(LARGE_BODY_PATHS)
        limit = self.settings.max_upload_bytes if large else self.settings.max_json_body
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _too_large(send, limit)
        if large:
            return await self.app(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await _too_large(send, limit)
            more = message.get("more_body", False)
        body: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal body
            if body is None:
                return await receive()  # later reads wait for the disconnect, as they would have
            message, body = body, None
            return message

        await self.app(scope, replay, send)


async def _too_large(send: Send, limit: int) -> None:
    payload = json.dumps({"error": {"code": "REQUEST_TOO_LARGE",
                                    "message": f"the request body exceeds the limit of {limit} bytes"}}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})
