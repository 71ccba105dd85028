"""Streamed answers read straight from the server's events (bot.llm.sse): the same answer whatever the line endings,
comments and cuts between reads of the server or proxy in between, as the openai client's own decoder reads them; a
failure the server reports mid-stream, or an event that is not JSON, is the provider's error, after the text that
came before it."""

from __future__ import annotations

import asyncio
import json
import random

import openai
import pytest
from openai._streaming import SSEDecoder  # the client's own decoder: the reference this one must agree with

from bot.llm.chat import ChatMessage, ChatModel, ModelServerError
from bot.llm.sse import SSEParser
from bot.llm.usage import Spender
from tests.fakes.openai import FakeOpenAI, Framing

ASKED = Spender("answer", 5, 2)
QUESTION = [ChatMessage("user", "Как создать клан?")]
ANSWER = "Откройте меню клана 🏰 и нажмите «Создать». Then invite members: /clan invite."


@pytest.mark.parametrize(
    "framing",
    [
        Framing(),
        Framing(line_end=b"\r\n", keep_alive=True),
        Framing(line_end=b"\r"),
        Framing(cut_at=0.5),
        Framing(cut_at=0.02, keep_alive=True),  # inside "data:"
        Framing(line_end=b"\r\n", cut_at=0.99),  # between the last CR and LF
    ],
    ids=["lf", "crlf-keepalive", "cr", "cut-mid-event", "cut-in-field-name", "cut-between-cr-lf"],
)
async def test_the_answer_comes_whole_whatever_the_framing(
    endpoint: tuple[FakeOpenAI, openai.AsyncOpenAI], framing: Framing
) -> None:
    fake, client = endpoint
    fake.framing = framing
    fake.stream_chunk_chars = 3  # multi-byte letters and the emoji are cut between events too
    fake.reply(ANSWER)
    chat = ChatModel(client, max_tokens=64, temperature=None)
    stream = chat.stream("gpt-4o-mini", QUESTION, spender=ASKED)
    assert "".join([d.text async for d in stream.deltas]) == ANSWER
    (reported,) = fake.usage_reported
    assert stream.usage.completion_tokens == reported["completion_tokens"]


@pytest.mark.parametrize(
    "framing",
    [Framing(error_after=2), Framing(error_after=2, failure=b'{"choices": [{"delta": {"content": "Par')],
    ids=["error-event", "event-that-is-not-json"],  # the second: an event a proxy cut short
)
async def test_a_failure_mid_stream_is_the_provider_s_error_after_what_came(
    endpoint: tuple[FakeOpenAI, openai.AsyncOpenAI], framing: Framing
) -> None:
    fake, client = endpoint
    fake.framing = framing
    fake.stream_chunk_chars = 8
    fake.reply(ANSWER)
    chat = ChatModel(client, max_tokens=64, temperature=None)
    shown: list[str] = []
    with pytest.raises(ModelServerError, match="The model provider had an error"):
        async for delta in chat.stream("gpt-4o-mini", QUESTION, spender=ASKED).deltas:
            shown.append(delta.text)
    assert "".join(shown) == ANSWER[:16]


def stream_of_every_kind() -> bytes:
    """Events as servers write them: each line ending, comments, fields a chat completion ignores, an event of
    several data lines, an empty data line, letters of several bytes."""
    events = [
        b'data: {"choices": [{"delta": {"content": "\xd0\x9f\xd1\x80\xd0\xb8"}}]}\n\n',  # "При"
        b": keep-alive\r\n\r\n",
        b'event: message\r\nid: 7\r\ndata: {"choices": [{"delta": {"content": "\xf0\x9f\x8f\xb0"}}]}\r\n\r\n',
        b'retry: 1000\rdata: {"a":\rdata: 1}\r\r',  # CR alone; two data lines of one event
        b'data: {"b":\r\ndata: 2}\r\n\r\n',  # CR LF: cut between the two, still one event
        b'data:{"no_space": true}\n\n',
        b"data\ndata: 2\n\n",
        b'data: {"usage": {"prompt_tokens": 3}}\n\n',
        b"data: [DONE]\n\n",
    ]
    return b"".join(events)


def reference(stream: bytes, reads: list[bytes]) -> list[bytes]:
    """The data of each event, as the openai client's decoder reads `stream` cut into `reads`."""
    assert b"".join(reads) == stream
    return [sse.data.encode() for sse in SSEDecoder().iter_bytes(iter(reads)) if sse.data]


def ours(reads: list[bytes]) -> list[bytes]:
    parser = SSEParser()
    return [data for read in reads for data in parser.feed(read)] + parser.end()


def test_events_are_read_as_the_openai_client_reads_them_however_the_bytes_are_cut() -> None:
    stream = stream_of_every_kind()
    whole = reference(stream, [stream])
    assert json.loads(whole[2]) == {"a": 1} and json.loads(whole[3]) == {"b": 2} and whole[-1] == b"[DONE]"
    for cut in range(len(stream) + 1):  # every place one cut can fall
        reads = [stream[:cut], stream[cut:]]
        assert ours(reads) == reference(stream, reads) == whole, cut
    rng = random.Random(7)
    for _ in range(300):  # and many cuts at once, down to a byte a read
        cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(2, 40)))
        reads = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        assert ours(reads) == whole
    assert ours([bytes([b]) for b in stream]) == whole


async def test_an_answer_dropped_unread_is_hung_up_on_so_the_server_stops_writing_it(
    endpoint: tuple[FakeOpenAI, openai.AsyncOpenAI],
) -> None:
    fake, client = endpoint
    fake.chunk_delay_s = 0.01  # still streaming when it is dropped
    fake.reply(ANSWER * 20)
    chat = ChatModel(client, max_tokens=64, temperature=None)
    deltas = chat.stream("gpt-4o-mini", QUESTION, spender=ASKED).deltas
    first = await anext(deltas)
    await deltas.aclose()  # the asker left: nothing more is read
    await asyncio.wait_for(fake.chat_dropped.wait(), 10)
    assert ANSWER.startswith(first.text) and fake.chat_streams_dropped == 1
