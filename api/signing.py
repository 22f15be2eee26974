"""HMAC-SHA256 signed, expiring URLs for the upload PUT and local downloads (what S3 presigning does for S3).

The signature covers the method's purpose, the object and the expiry, so an upload URL cannot be used to download
and a URL cannot be extended by editing `expires`.
"""

import hashlib
import hmac
import time
from urllib.parse import quote, urlencode

from api.errors import Forbidden


def sign(key: bytes, purpose: str, name: str, expires: int) -> str:
    msg = f"{purpose}\n{name}\n{expires}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def signed_url(base: str, path: str, key: bytes, purpose: str, name: str, expires: int) -> str:
    """`base` + `path` (already containing `name`) + `?expires=...&signature=...`."""
    query = urlencode({"expires": expires, "signature": sign(key, purpose, name, expires)})
    return f"{base.rstrip('/')}{quote(path)}?{query}"


def verify(key: bytes, purpose: str, name: str, expires: str | None, signature: str | None) -> None:
    """Raise Forbidden unless `signature` is valid for (purpose, name, expires) and not expired."""
    if not expires or not signature or not expires.isdigit():
        raise Forbidden("missing or malformed signature", code="INVALID_SIGNATURE")
    if not hmac.compare_digest(sign(key, purpose, name, int(expires)), signature):
        raise Forbidden("invalid signature", code="INVALID_SIGNATURE")
    if int(expires) < time.time():
        raise Forbidden("this URL has expired", code="URL_EXPIRED")
