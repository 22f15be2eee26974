"""Outbound requests to user-given URLs (audio_url, webhookUrl) without SSRF.

A URL must be https:// with a public host. The name is resolved and every address checked (loopback, private,
link-local, metadata, multicast, reserved, CGNAT, IPv4-mapped forms are all refused); then the address the socket
actually connected to is checked again (against DNS rebinding), and each redirect goes through the same checks.
`LASSO_ALLOW_LOOPBACK_URLS=1` (tests/dev) also admits http:// and https:// URLs whose host is loopback.
"""

import ipaddress
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urljoin, urlsplit

import httpx


class UnsafeUrl(ValueError):
    """The URL's scheme or host is not allowed."""


class FetchError(Exception):
    """The remote server could not be reached or answered with an error."""


class TooLarge(Exception):
    """The remote body exceeds the size cap."""


def _blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return _blocked(ip.ipv4_mapped)
        if ip.sixtofour or ip.teredo:
            return True
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local


def resolve(host: str, port: int) -> list[str]:
    """All addresses of `host` (patched in tests to simulate public names resolving to private addresses)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror}") from exc
    return [info[4][0] for info in infos]


def check_address(addr: str, *, allow_loopback: bool) -> None:
    ip = ipaddress.ip_address(addr.split("%")[0])
    if allow_loopback and (ip.is_loopback or (isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped
                                               and ip.ipv4_mapped.is_loopback)):
        return
    if _blocked(ip):
        raise UnsafeUrl(f"address {addr} is not public")


def check_url(url: str, *, allow_loopback: bool = False) -> tuple[str, int]:
    """Validate scheme and host of `url` and every address it resolves to; return (host, port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"malformed URL: {exc}") from exc
    scheme, host = parts.scheme.lower(), (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeUrl("URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("credentials in URLs are not accepted")
    if scheme not in ("https", "http"):
        raise UnsafeUrl(f"scheme {scheme or '(none)'!r} is not allowed; use https")
    port = port or (443 if scheme == "https" else 80)
    loopback_name = host == "localhost" or host.endswith(".localhost")
    addrs = [host] if _is_ip(host) else (["127.0.0.1"] if loopback_name else resolve(host, port))
    for addr in addrs:
        check_address(addr, allow_loopback=allow_loopback)
    if scheme == "http" and not allow_loopback:
        raise UnsafeUrl("only https URLs are accepted")
    return host, port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _peer_address(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    return peer[0] if peer else None


@contextmanager
def safe_stream(method: str, url: str, *, allow_loopback: bool, timeout: float, max_redirects: int = 5,
                **kwargs) -> Iterator[httpx.Response]:
    """Open `url` (following redirects by hand, each one checked) and yield the streaming final response."""
    deadline = time.monotonic() + timeout
    with httpx.Client(follow_redirects=False, timeout=httpx.Timeout(min(timeout, 30.0)), trust_env=False) as client:
        for _ in range(max_redirects + 1):
            check_url(url, allow_loopback=allow_loopback)
            try:
                response = client.send(client.build_request(method, url, **kwargs), stream=True)
            except httpx.HTTPError as exc:
                raise FetchError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
            try:
                peer = _peer_address(response)
                if peer is not None:
                    check_address(peer, allow_loopback=allow_loopback)
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    if time.monotonic() > deadline:
                        raise FetchError("timed out following redirects")
                    continue
                yield response
                return
            finally:
                response.close()
        raise FetchError(f"more than {max_redirects} redirects")


def download(url: str, dest, *, allow_loopback: bool, timeout: float, max_bytes: int,
             max_redirects: int = 5) -> str | None:
    """Stream `url` into the open binary file `dest`; return the response content type."""
    deadline = time.monotonic() + timeout
    with safe_stream("GET", url, allow_loopback=allow_loopback, timeout=timeout, max_redirects=max_redirects) as r:
        if r.status_code >= 400:
            raise FetchError(f"the server answered HTTP {r.status_code}")
        declared = r.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise TooLarge(f"remote file is {declared} bytes; the limit is {max_bytes}")
        size = 0
        try:
            for chunk in r.iter_bytes(1 << 16):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"remote file exceeds the limit of {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise FetchError(f"download took longer than {timeout:g} s")
                dest.write(chunk)
        except httpx.HTTPError as exc:
            raise FetchError(f"download interrupted: {exc}") from exc
        return r.headers.get("content-type")
