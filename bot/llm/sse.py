"""A chat completion's server-sent events, read straight from the response's bytes.

The openai client's own stream passes every event through five layers of generators (its byte decoder, line decoder,
event decoder, stdlib JSON, then its chunk type): for an answer of 30 chunks that was a third of the bot's CPU per
answer. `JSONEvents` is the same stream (the client still makes the request, raises its errors for a refused one and
closes the response), read in one loop: lines split as the SSE specification says (LF, CR LF or CR; after a read that
ends with CR, an LF opening the next one is that line's), `data:` lines joined, comments and other fields skipped, each
event's data parsed with orjson where it is installed, `[DONE]` the end. An event with an `error` field raises
`openai.APIError` as the client's stream does; a transport failure while reading raises `openai.APITimeoutError` or
`openai.APIConnectionError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from typing import cast

import openai

try:
    import orjson

    _loads: Callable[[bytes], object] = orjson.loads
except ImportError:  # pragma: no cover - orjson comes with hikari[speedups]
    _loads = json.loads


DRAIN_S = 0.1


def json_fields(value: object) -> dict[str, object]:
    """A JSON object's fields; none for anything else (what a server sends is read as sent, not trusted)."""
    return cast("dict[str, object]", value) if isinstance(value, dict) else {}


def _is_timeout(exc: BaseException) -> bool:
    # httpx's (httpx2's) TimeoutException and the builtin TimeoutError, without importing the client's transport.
    return isinstance(exc, TimeoutError) or any(cls.__name__ == "TimeoutException" for cls in type(exc).__mro__)


class SSEParser:
    """Bytes in, each event's data out (the `data:` lines of one event joined by LF)."""

    __slots__ = ("_after_cr", "_data", "_pending")

    def __init__(self) -> None:
        self._pending = b""  # the start of a line whose line break has not come yet
        self._after_cr = False  # the last read ended with CR: an LF opening the next belongs to it
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data of every event that `chunk` completes."""
        if not chunk:
            return []
        if self._after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        buffer = self._pending + chunk if self._pending else chunk
        lines = buffer.splitlines(keepends=True)
        if lines and not lines[-1].endswith((b"\n", b"\r")):
            self._pending = lines.pop()
            self._after_cr = False
        else:
            self._pending = b""
            self._after_cr = bool(lines) and lines[-1].endswith(b"\r")
        return self._events(lines)

    def end(self) -> list[bytes]:
        """What the stream's last bytes complete (a final line without its line break; an event without its blank
        line is not dispatched, as the specification says)."""
        pending, self._pending = self._pending, b""
        return self._events([pending]) if pending else []

    def _events(self, lines: list[bytes]) -> list[bytes]:
        events: list[bytes] = []
        data = self._data
        for raw in lines:
            line = raw.rstrip(b"\r\n")
            if not line:
                if data:
                    events.append(b"\n".join(data))
                    data.clear()
                continue
            if line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
            elif line == b"data":
                data.append(b"")
            # Comments (":…") and the other fields (event, id, retry) say nothing a chat completion needs.
        return events


class JSONEvents(openai.AsyncStream[object]):
    """Each event of a streamed chat completion, as the JSON the server sent."""

    def __aiter__(self) -> AsyncIterator[object]:  # type: ignore[override]
        return self._iterator

    async def close(self) -> None:
        """Releases the response at once, whether the stream was read to its end, cut off or dropped unread."""
        await cast("AsyncGenerator[object]", self._iterator).aclose()
        await self.response.aclose()

    async def __stream__(self) -> AsyncIterator[object]:
        response = self.response
        # The transport's bytes as they come when the server sent them unencoded (as chat servers do): the response's
        # own iterators add two more generators per read, for decoding and counting that nothing here needs.
        encoded = response.headers.get("content-encoding", "identity").lower() not in ("", "identity")
        reads = aiter(cast("AsyncIterable[bytes]", response.aiter_bytes() if encoded else response.stream))
        parser = SSEParser()
        try:
            while True:
                chunk = await self._read(reads)
                for data in parser.feed(chunk) if chunk is not None else parser.end():
                    if data.startswith(b"[DONE]"):
                        await self._drain(reads)
                        return
                    yield self._parsed(data)
                if chunk is None:
                    return
        finally:
            closing = getattr(reads, "aclose", None)
            if closing is not None:
                await closing()
            await response.aclose()

    async def _read(self, reads: AsyncIterator[bytes]) -> bytes | None:
        """The next bytes; None at the end. A transport failure is the client's error for it."""
        try:
            return await anext(reads, None)
        except openai.OpenAIError:
            raise
        except Exception as exc:
            if _is_timeout(exc):
                raise openai.APITimeoutError(request=self.response.request) from exc
            raise openai.APIConnectionError(request=self.response.request) from exc

    async def _drain(self, reads: AsyncIterator[bytes]) -> None:
        """After `[DONE]`, what is left of the body (the chunked encoding's end), so that the connection is kept for the
        next request; a server that keeps it open is given up on after a moment."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(DRAIN_S):
                async for _ in reads:
                    pass

    def _parsed(self, data: bytes) -> object:
        """An event's JSON; an event that says `error` (how servers report a failure mid-stream) raises it."""
        try:
            value: object = _loads(data)
        except ValueError as exc:
            raise openai.APIError(
                "The model server sent an event that is not JSON", self.response.request, body=None
            ) from exc
        error = json_fields(value).get("error")
        if error:
            message = json_fields(error).get("message")
            raise openai.APIError(
                message if isinstance(message, str) and message else "An error occurred during streaming",
                self.response.request,
                body=error,
            )
        return value
