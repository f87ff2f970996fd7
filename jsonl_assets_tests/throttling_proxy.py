"""A loopback HTTP proxy in front of the S3 server that answers some requests the way a busy
S3 does (503 SlowDown, 500 InternalError) before they reach it, and forwards the rest
unchanged: the build's real clients (s3fs, botocore) must retry through it. Started and
stopped by the test that uses it; it listens on 127.0.0.1 and forwards only to loopback."""

from __future__ import annotations

import collections
import http.client
import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager

_ERRORS = (
    (503, "SlowDown", "Please reduce your request rate."),
    (500, "InternalError", "We encountered an internal error. Please try again."),
)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


class ThrottlingProxy:
    """The second request of each HTTP method, and every `every`-th after it (counted across
    all clients), gets an S3 error instead of an answer, alternating SlowDown and
    InternalError; `refused` counts them by method. Per method, so every kind of request is
    refused at least once however few of it a build makes (a retry is never refused again)."""

    def __init__(self, upstream: str, every: int = 10) -> None:
        target = urllib.parse.urlsplit(upstream)
        if target.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError(f"the proxy forwards only to loopback, not {upstream}")
        self._upstream = (target.hostname, target.port or 80)
        self._every = every
        self._lock = threading.Lock()
        self._count: collections.Counter[str] = collections.Counter()
        self.refused: collections.Counter[str] = collections.Counter()
        self.forwarded: collections.Counter[str] = collections.Counter()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _refuse_next(self, method: str) -> int | None:
        with self._lock:
            self._count[method] += 1
            if self._count[method] % self._every != 2 % self._every:
                self.forwarded[method] += 1
                return None
            self.refused[method] += 1
            return sum(self.refused.values()) % len(_ERRORS)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    parts = []
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                length = str(len(body))
                for name, value in headers:
                    if name.lower() == "content-length" and self.command == "HEAD":
                        length = value  # the object's size, sent without its body
                    elif name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", length)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _any(self) -> None:
                body = self._body()
                error = proxy._refuse_next(self.command)
                if error is not None:
                    status, code, message = _ERRORS[error]
                    xml = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
                    self._reply(status, [("Content-Type", "application/xml")], xml.encode())
                    return
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length"
                }
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection(*proxy._upstream, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    self._reply(response.status, response.getheaders(), data)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        return Handler

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def throttling(upstream: str, every: int = 10) -> Iterator[ThrottlingProxy]:
    proxy = ThrottlingProxy(upstream, every)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
