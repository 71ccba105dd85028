"""A cheap check at start that the model endpoint answers and takes the key, so a bad setup shows before a question."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging

import httpx2  # the HTTP client that openai 3 is built on
import openai

_log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 5.0


async def endpoint_problem(client: openai.AsyncOpenAI, *, timeout_s: float = CHECK_TIMEOUT_S) -> str | None:
    """Why questions will fail at the model endpoint, in one line, or None when `GET /models` answers."""
    where = str(client.base_url).rstrip("/")
    try:
        await client.with_options(timeout=timeout_s, max_retries=0).models.list()
    except openai.AuthenticationError:
        return f"the model endpoint {where} rejected the key (401): check OPENAI_API_KEY."
    except openai.APITimeoutError:
        return (
            f"the model endpoint {where} did not answer within {timeout_s:g} s: check OPENAI_BASE_URL and the server."
        )
    except openai.APIConnectionError:
        return f"cannot reach the model endpoint {where}: check OPENAI_BASE_URL and that the server is running."
    except openai.NotFoundError:
        return None  # some OpenAI-compatible servers have no model list; the endpoint itself answered
    except openai.APIStatusError as exc:
        return f"the model endpoint {where} answered {exc.status_code} to GET /models: answers may fail."
    return None


async def warn_if_endpoint_unusable(client: openai.AsyncOpenAI, *, timeout_s: float = CHECK_TIMEOUT_S) -> None:
    """Log one WARNING line when the endpoint cannot be used; the bot keeps running either way."""
    problem = await endpoint_problem(client, timeout_s=timeout_s)
    if problem is not None:
        _log.warning("%s Questions will get an error until this is fixed.", problem[0].upper() + problem[1:])


def load_client_parts(client: openai.AsyncOpenAI) -> None:
    """Run once in a worker thread at start-up: a rehearsal of a completion and of a stream through ChatModel, as the
    bot asks them, answered in memory, so what the client loads lazily on its first request (about 0.3 s of imports,
    the async backend of its HTTP stack, pydantic schemas, the platform headers) is loaded here and not on the event
    loop, where it would stall every answer and the gateway heartbeat for that long on the bot's first question."""
    from bot.llm.chat import ChatMessage, ChatModel
    from bot.llm.usage import Spender

    importlib.import_module("anyio._backends._asyncio")  # what the HTTP connection pool imports on first use
    http = openai.DefaultAsyncHttpxClient(transport=httpx2.MockTransport(_rehearsal_reply))
    chat = ChatModel(
        client.with_options(base_url="http://rehearsal.invalid/v1", http_client=http, max_retries=0),
        max_tokens=1,
        temperature=None,
    )

    async def rehearse() -> None:
        question = [ChatMessage("user", "ok")]
        rehearsal = Spender("answer")  # counted nowhere: this ChatModel has no ledger
        await chat.complete("m", question, spender=rehearsal)
        async for _ in chat.stream("m", question, spender=rehearsal).deltas:
            pass
        await http.aclose()

    asyncio.run(rehearse())


def _rehearsal_reply(request: httpx2.Request) -> httpx2.Response:
    if b'"stream":true' in request.content.replace(b" ", b""):
        chunk = {"id": "r", "object": "chat.completion.chunk", "created": 0, "model": "m",
                 "choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]}  # fmt: skip
        body = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})
    message = {"role": "assistant", "content": "ok"}
    completion = {"id": "r", "object": "chat.completion", "created": 0, "model": "m",
                  "choices": [{"index": 0, "finish_reason": "stop", "message": message}]}  # fmt: skip
    return httpx2.Response(200, json=completion)
