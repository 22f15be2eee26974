"""Standard Webhooks signatures and one delivery attempt (the retry policy lives in the `deliver_webhook` actor).

Signature: HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}` with the secret's bytes (for `whsec_<base64>`
the decoded base64; any other secret is used as its UTF-8 bytes), sent as `webhook-signature: v1,<base64>`.
"""

import base64
import binascii
import hashlib
import hmac
import time

import httpx

from api import netguard


def secret_bytes(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_"):], validate=True)
        except binascii.Error:
            pass
    return secret.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    digest = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: str, *, tolerance: int = 300) -> bool:
    """What a receiver does (used by the tests and documented for clients)."""
    msg_id, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > tolerance:
        return False
    expected = sign(secret, msg_id, int(ts), body).split(",", 1)[1]
    candidates = [s.split(",", 1)[1] for s in headers.get("webhook-signature", "").split() if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, c) for c in candidates)


def deliver(url: str, body: str, *, secret: str, msg_id: str, timeout: float, allow_loopback: bool) -> str | None:
    """POST once; None on a 2xx, else a short error description (stored as `last_error`)."""
    ts = int(time.time())
    headers = {"content-type": "application/json", "user-agent": "AudioLasso-Webhooks/1.0", "webhook-id": msg_id,
               "webhook-timestamp": str(ts), "webhook-signature": sign(secret, msg_id, ts, body)}
    try:
        with netguard.safe_stream("POST", url, allow_loopback=allow_loopback, timeout=timeout, max_redirects=0,
                                  content=body.encode(), headers=headers) as response:
            if 200 <= response.status_code < 300:
                return None
            return f"HTTP {response.status_code}"
    except netguard.UnsafeUrl as exc:
        return f"refused: {exc}"
    except netguard.FetchError as exc:
        return str(exc)[:500]
    except httpx.HTTPError:
        return netguard.unreachable(timeout)
