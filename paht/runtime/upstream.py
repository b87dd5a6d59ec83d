"""A lean HTTP/1.1 client for the edge: pooled keep-alive connections to the services, llhttp to read answers.

The edge passes every request of the embedded run on to a service, so what it spends per request is
spent on every request. A general client (httpx) builds request and response models, checks the async
library and wraps streams on each call; this one writes the request head as bytes, reads the answer with
httptools (the parser uvicorn uses) and hands back the raw headers and body as they arrive.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import AsyncIterator

import httptools

IDLE_S = 4.0            # an idle connection older than this is not reused (uvicorn closes them after 5 s)
MAX_IDLE = 64           # idle connections kept per service
READ_SIZE = 256 * 1024


class UpstreamError(Exception):
    """The service could not be reached, or its answer broke off."""


class Unreachable(UpstreamError):
    """No connection could be made: nothing was sent, another process of the service may take the request."""


class Unanswered(UpstreamError):
    """The connection ended before a byte of the answer came: the request may be sent again on a new one."""


class _Answer:
    """httptools' callbacks: the answer's head and body pieces as they are parsed."""

    __slots__ = ("headers", "body", "head_done", "done", "keep_alive", "parser")

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.head_done = False
        self.done = False
        self.keep_alive = False
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.head_done = True
        self.keep_alive = self.parser.should_keep_alive()  # llhttp forgets it once the message is complete

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True


class _Connection:
    __slots__ = ("reader", "writer", "idle_since")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def close(self) -> None:
        self.writer.close()


class UpstreamResponse:
    """A service's answer: status and raw headers at once, the body as it comes (read it, then close)."""

    def __init__(self, pool: "Upstreams", key: tuple[str, int], conn: _Connection, answer: _Answer, head_only: bool, timeout: float):
        self._pool, self._key, self._conn, self._answer = pool, key, conn, answer
        self.status = answer.parser.get_status_code()
        self.headers = answer.headers
        self._timeout = timeout
        self._complete = answer.done or head_only
        self._keep = answer.keep_alive
        self._released = False

    @property
    def complete(self) -> bool:
        """Whether the whole body has arrived already (then `take()` gives it without waiting)."""
        return self._complete

    def take(self) -> bytes:
        """Return the body read so far and forget it."""
        body = b"".join(self._answer.body)
        self._answer.body.clear()
        if self._complete:
            self._release()
        return body

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives."""
        first = self.take()
        if first:
            yield first
        while not self._complete:
            try:
                async with asyncio.timeout(self._timeout):
                    data = await self._conn.reader.read(READ_SIZE)
            except (OSError, TimeoutError) as exc:
                self._drop()
                raise UpstreamError(f"the answer broke off: {exc.__class__.__name__}") from exc
            if not data:
                self._drop()
                raise UpstreamError("the service closed the connection in the middle of an answer")
            try:
                self._answer.parser.feed_data(data)
            except httptools.HttpParserError as exc:
                self._drop()
                raise UpstreamError("the service's answer could not be read") from exc
            self._complete = self._answer.done
            piece = self.take()
            if piece:
                yield piece

    def _release(self) -> None:
        if self._released:
            return
        self._released = True
        if self._keep:
            self._pool._put(self._key, self._conn)
        else:
            self._conn.close()

    def _drop(self) -> None:
        if not self._released:
            self._released = True
            self._conn.close()

    async def aclose(self) -> None:
        """Give the connection back when the answer was read whole; otherwise close it."""
        if self._complete:
            self._release()
        else:
            self._drop()


class Upstreams:
    """Keep-alive connections to each service, reused one request at a time (no pipelining)."""

    def __init__(self, connect_timeout: float = 2.0, timeout: float = 30.0):
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self._idle: dict[tuple[str, int], deque[_Connection]] = {}

    def _put(self, key: tuple[str, int], conn: _Connection) -> None:
        idle = self._idle.setdefault(key, deque())
        if len(idle) >= MAX_IDLE or conn.reader.at_eof():
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    def _take(self, key: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to have been closed by the service
            if now - conn.idle_since < IDLE_S and not conn.reader.at_eof() and not conn.writer.is_closing():
                return conn
            conn.close()
        return None

    async def _connect(self, key: tuple[str, int]) -> _Connection:
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(key[0], key[1], limit=READ_SIZE)
        except (OSError, TimeoutError) as exc:
            raise Unreachable(f"cannot reach {key[0]}:{key[1]}: {exc.__class__.__name__}") from exc
        return _Connection(reader, writer)

    async def send(self, host: str, port: int, method: str, target: str, headers: list[tuple[str, str]],
                   body: bytes | AsyncIterator[bytes] = b"", *, fresh: bool = False, timeout: float | None = None) -> UpstreamResponse:
        """Send one request and return once the answer's head has arrived.

        A bytes body that meets a pooled connection the service had closed is sent once more on a new
        connection (nothing of it was read); a streamed body always goes on a new connection (`fresh`).
        """
        key = (host, port)
        timeout = timeout or self.timeout
        streamed = not isinstance(body, (bytes, bytearray))
        lines = [f"{method} {target} HTTP/1.1\r\nhost: {host}:{port}\r\n"]
        has_length = False
        for name, value in headers:
            low = name.lower()
            if low == "content-length":
                if not streamed:
                    continue  # the body in hand says its own length
                has_length = True
            lines.append(f"{name}: {value}\r\n")
        if not streamed:
            if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
                lines.append(f"content-length: {len(body)}\r\n")
        elif not has_length:
            lines.append("transfer-encoding: chunked\r\n")
        lines.append("\r\n")
        head = "".join(lines).encode("latin-1")
        head_only = method == "HEAD"
        conn = None if fresh or streamed else self._take(key)
        if conn is not None:
            try:
                return await self._exchange(key, conn, head, body, head_only, timeout, streamed, has_length)
            except Unanswered:
                pass  # a pooled connection the service had closed: once more, on a new one
        conn = await self._connect(key)
        return await self._exchange(key, conn, head, body, head_only, timeout, streamed, has_length)

    async def _exchange(self, key, conn: _Connection, head: bytes, body, head_only: bool, timeout: float,
                        streamed: bool, has_length: bool) -> UpstreamResponse:
        answer = _Answer()
        got_any = False
        try:
            if streamed:
                conn.writer.write(head)
                async for chunk in body:
                    if not chunk:
                        continue
                    conn.writer.write(chunk if has_length else b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    await conn.writer.drain()
                if not has_length:
                    conn.writer.write(b"0\r\n\r\n")
            else:
                conn.writer.write(head + body if len(body) < 65536 else head)
                if len(body) >= 65536:
                    conn.writer.write(body)
            await conn.writer.drain()
            async with asyncio.timeout(timeout):
                while not answer.head_done or (not answer.done and not head_only and not answer.body):
                    data = await conn.reader.read(READ_SIZE)
                    if not data:
                        raise ConnectionResetError("closed by the service")
                    got_any = True
                    answer.parser.feed_data(data)
        except TimeoutError as exc:
            conn.close()
            raise UpstreamError("the service did not answer in time") from exc
        except (OSError, httptools.HttpParserError, ConnectionError) as exc:
            conn.close()
            if not got_any and not streamed:
                raise Unanswered(str(exc)) from exc
            raise UpstreamError(f"the service's answer broke off: {exc.__class__.__name__}") from exc
        except BaseException:
            conn.close()  # the body stopped (its client left, or it went past its limit): the service sees the request end
            raise
        return UpstreamResponse(self, key, conn, answer, head_only, timeout)

    async def close(self) -> None:
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
