"""The HTTP server edge: uvicorn's httptools protocol with the limits a public endpoint needs.

uvicorn holds a connection whose headers trickle in (or never come) for as long as the client
likes, and keeps headers of any size; a few hundred such connections pin memory and sockets.
This protocol closes a connection whose request headers are not complete within
``HEADER_TIMEOUT_S`` and answers 431 to headers over ``MAX_HEADER_BYTES``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_S = 10.0
MAX_HEADER_BYTES = 32 * 1024


def no_delay(transport: asyncio.BaseTransport) -> None:
    """Turn Nagle's algorithm off on a connection.

    A response goes out in two writes (head, then body); with Nagle on, the second waits for
    the client's delayed ACK: 40 ms on every keep-alive request. Servers that bind their own
    socket get TCP_NODELAY from the event loop; one handed a listening descriptor (``serve``
    binds before its banner) does not, because uvicorn wraps the descriptor as a Unix socket
    whatever it is. A real Unix socket refuses the option, which is fine.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class GuardedHttpProtocol(HttpToolsProtocol):
    header_timeout_s = HEADER_TIMEOUT_S
    max_header_bytes = MAX_HEADER_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._refused = False

    def _start_header_clock(self) -> None:
        self._stop_header_clock()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _stop_header_clock(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        no_delay(transport)
        self._start_header_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        if self._header_timer is None:
            self._start_header_clock()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        if not self._refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value))
        if not self._refused:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_header_clock()
        if not self._refused:
            super().on_headers_complete()

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.max_header_bytes and not self._refused:
            self._refused = True
            self._stop_header_clock()
            body = json.dumps(
                {
                    "error": {
                        "message": f"request headers over {self.max_header_bytes} bytes",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "headers_too_large",
                    }
                }
            ).encode()
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: application/json\r\nconnection: close\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            self.transport.close()
