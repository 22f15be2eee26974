"""Outbound requests to user-given URLs (audio_url, webhookUrl) without SSRF.

A URL must be https:// with a public host. The name is resolved and every address checked (loopback, private,
link-local, metadata, multicast, reserved, CGNAT, IPv4-mapped forms are all refused); the socket then connects to
an address that passed (pinned: a second DNS answer is never asked for, against DNS rebinding), TLS still naming
the host (SNI, certificate). Each redirect goes through the same checks, and one deadline bounds the whole fetch.
`LASSO_ALLOW_LOOPBACK_URLS=1` (tests/dev) also admits http:// and https:// URLs whose host is loopback.
"""

import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urljoin, urlsplit

import certifi
import httpcore
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
    host, port, _ = _approved(url, allow_loopback=allow_loopback)
    return host, port


def _approved(url: str, *, allow_loopback: bool) -> tuple[str, int, list[str]]:
    """(host, port, addresses): the checks of `check_url`, keeping the addresses that passed them."""
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
    return host, port, addrs


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _time_left(deadline: float, timeout: float | None) -> float:
    """Seconds an operation may wait: its own timeout, cut to what is left before the deadline."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the fetch deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every read and write waits at most until the fetch's one deadline (slow-drip servers)."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self.stream, self.deadline = stream, deadline

    def _left(self, timeout: float | None) -> float:
        return _time_left(self.deadline, timeout)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, self._left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, self._left(timeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        # server_hostname is the URL's host: SNI and certificate checks use the name, the socket the pinned address
        return _DeadlineStream(self.stream.start_tls(ssl_context, server_hostname, self._left(timeout)), self.deadline)

    def get_extra_info(self, info: str):
        return self.stream.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the address `check_url` approved, never to a second DNS answer (DNS rebinding)."""

    def __init__(self, deadline: float) -> None:
        self.deadline, self.address = deadline, ""
        self.backend = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options=None) -> httpcore.NetworkStream:
        left = _time_left(self.deadline, timeout)
        stream = self.backend.connect_tcp(self.address, port, left, local_address, socket_options)
        return _DeadlineStream(stream, self.deadline)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _client(backend: _PinnedBackend, timeout: float) -> httpx.Client:
    transport = httpx.HTTPTransport(trust_env=False)
    transport._pool = httpcore.ConnectionPool(ssl_context=ssl.create_default_context(cafile=certifi.where()),
                                              network_backend=backend)  # httpx has no public backend option
    return httpx.Client(transport=transport, follow_redirects=False, timeout=httpx.Timeout(min(timeout, 30.0)),
                        trust_env=False)


@contextmanager
def safe_stream(method: str, url: str, *, allow_loopback: bool, timeout: float, max_redirects: int = 5,
                **kwargs) -> Iterator[httpx.Response]:
    """Open `url` (following redirects by hand, each one checked) and yield the streaming final response.

    One deadline, `timeout` seconds from now, bounds everything: connecting, headers, redirects and the body.
    Whatever goes wrong before an HTTP answer is one generic FetchError, which tells no open port from a closed one.
    """
    backend = _PinnedBackend(time.monotonic() + timeout)
    with _client(backend, timeout) as client:
        for _ in range(max_redirects + 1):
            backend.address = _approved(url, allow_loopback=allow_loopback)[2][0]
            try:
                response = client.send(client.build_request(method, url, **kwargs), stream=True)
            except httpx.HTTPError as exc:
                raise FetchError(unreachable(timeout)) from exc
            try:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                yield response
                return
            finally:
                response.close()
        raise FetchError(f"more than {max_redirects} redirects")


def unreachable(timeout: float) -> str:
    """The one text of a failed connection or exchange, whatever the cause."""
    return f"the server could not be reached, or did not answer within {timeout:g} s"


def download(url: str, dest, *, allow_loopback: bool, timeout: float, max_bytes: int,
             max_redirects: int = 5) -> str | None:
    """Stream `url` into the open binary file `dest`; return the response content type."""
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
                dest.write(chunk)
        except httpx.HTTPError as exc:
            raise FetchError(unreachable(timeout)) from exc
        return r.headers.get("content-type")
