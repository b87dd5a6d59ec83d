"""HTTP caching of the public reads (the portal's JSON API and Open311's GETs): ETag, 304, a short max-age, and the
last answers kept in memory.

The same URL asked again within MAX_AGE_S gets the bytes already made, as long as this process has committed no write
since they were read (adapters/changes.py): an event applied, a publication, a POST makes every kept answer stale at
once, so the embedded run (one publication process) answers as its database stands. One exception bounds the work a
busy province's commits would cause: a large answer (LARGE_BYTES or more: Open311's default page of up to a thousand
requests, ~100 ms of work to make) is made again at most every REMAKE_S — it stands through commits until it is
REMAKE_S old, still within the MAX_AGE_S every answer announces. The rule goes by the answer's size, not by the time it
took: the same answer is treated the same way however busy the machine was while it was made. Another replica's writes are seen when the kept answer
is MAX_AGE_S old. Every answer carries `ETag` (a hash of its bytes) and
`Cache-Control: max-age=MAX_AGE_S`; a client that sends the ETag back (`If-None-Match`) gets `304 Not Modified` without
the body while the answer is the same. Only public answers go through here: nothing that depends on who asks (no
cookie, no token is read by these routes), and only 200s are kept.
"""
from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from services.publication.adapters import changes

MAX_AGE_S = 2           # how old a public answer may be (kept here, and in the client's cache)
MAX_BYTES = 64 << 20    # answers kept at once (the least recently used go first)
MAX_ENTRY_BYTES = 4 << 20
LARGE_BYTES = 256 << 10  # an answer this large …
REMAKE_S = 1.0           # … is made again at most this often, whatever was committed meanwhile


@dataclass(frozen=True)
class Kept:
    body: bytes
    media_type: str | None
    etag: str
    generation: int
    at: float
    headers: tuple[tuple[str, str], ...] = ()  # kept with the body (a page's Content-Language and Vary)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names this ETag (weak comparison, as RFC 9110 asks for GET; `*` matches)."""
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any((t[2:] if t.startswith("W/") else t) == etag for t in tags)


KEPT_HEADERS = ("content-language", "vary")


def kept_headers(response: Response) -> tuple[tuple[str, str], ...]:
    return tuple((name, response.headers[name]) for name in KEPT_HEADERS if name in response.headers)


class PublicAnswers:
    """The last public answers, by URL, each with the write generation it was read at."""

    def __init__(self, max_age_s: float = MAX_AGE_S, max_bytes: int = MAX_BYTES, clock: Callable[[], float] = time.monotonic,
                 large_bytes: int = LARGE_BYTES, remake_s: float = REMAKE_S):
        self.max_age_s = max_age_s
        self.large_bytes, self.remake_s = large_bytes, min(remake_s, max_age_s)
        self.max_bytes = max_bytes
        self.clock = clock
        self._kept: OrderedDict[str, Kept] = OrderedDict()
        self._bytes = 0
        self._making: dict[str, asyncio.Future] = {}

    def fresh(self, key: str) -> Kept | None:
        kept = self._kept.get(key)
        if kept is None:
            return None
        age = self.clock() - kept.at
        committed = kept.generation != changes.generation()
        if age >= self.max_age_s or (committed and (len(kept.body) < self.large_bytes or age >= self.remake_s)):
            self._drop(key)
            return None
        self._kept.move_to_end(key)
        return kept

    def _drop(self, key: str) -> None:
        kept = self._kept.pop(key, None)
        if kept is not None:
            self._bytes -= len(kept.body)

    def keep(self, key: str, kept: Kept) -> None:
        if len(kept.body) > MAX_ENTRY_BYTES:
            return
        self._drop(key)
        self._kept[key] = kept
        self._bytes += len(kept.body)
        while self._bytes > self.max_bytes and self._kept:
            self._drop(next(iter(self._kept)))

    async def answer(self, request: Request, make: Callable[[], Awaitable[Response]], key: str | None = None) -> Response:
        """The kept answer to this GET, or `make()`'s (kept when a 200), as a 200 with ETag and max-age, or a 304.
        `key` names what else the answer depends on besides its URL (a page's language)."""
        key = key or str(request.url)  # the host too: an answer may name it (Open311's discovery without PAHT_PUBLIC_URL)
        kept = self.fresh(key)
        if kept is None:
            making = self._making.get(key)
            if making is not None:  # the same answer is being made for another client: wait for it
                kept = await asyncio.shield(making)
            else:
                future = asyncio.get_running_loop().create_future()
                self._making[key] = future
                try:
                    generation = changes.generation()  # before reading: a commit during the read makes it stale
                    response = await make()
                    if response.status_code != 200 or "set-cookie" in response.headers:
                        future.set_result(None)
                        return response
                    body = bytes(response.body)
                    kept = Kept(body, response.headers.get("content-type"), etag_of(body), generation, self.clock(), kept_headers(response))
                    self.keep(key, kept)
                    future.set_result(kept)
                except BaseException:
                    if not future.done():
                        future.set_result(None)  # the waiting clients make their own (and meet the same refusal)
                    raise
                finally:
                    self._making.pop(key, None)
            if kept is None:  # the other client's answer was not one to share: make this one's own
                return await self.answer_uncached(request, make)
        return self.respond(request, kept)

    async def answer_uncached(self, request: Request, make: Callable[[], Awaitable[Response]]) -> Response:
        response = await make()
        if response.status_code == 200 and "set-cookie" not in response.headers:
            body = bytes(response.body)
            return self.respond(request, Kept(body, response.headers.get("content-type"), etag_of(body), 0, 0.0, kept_headers(response)))
        return response

    def respond(self, request: Request, kept: Kept) -> Response:
        headers = {**dict(kept.headers), "ETag": kept.etag, "Cache-Control": f"max-age={int(self.max_age_s)}"}
        if matches(request.headers.get("if-none-match"), kept.etag):
            return Response(status_code=304, headers=headers)
        response = Response(kept.body, headers=headers)
        if kept.media_type:
            response.headers["content-type"] = kept.media_type
        return response
