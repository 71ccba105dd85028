"""Chat completions through an OpenAI-compatible endpoint: answers without the model's thinking, pictures sent as
image parts, each provider failure a short message of its own (and counted), and every call's tokens recorded."""

from __future__ import annotations

import base64
import datetime as dt
import io

import openai
import pytest
from PIL import Image

from bot.llm.chat import (
    ChatMessage,
    ChatModel,
    ModelAuthFailed,
    ModelNotFound,
    ModelRateLimited,
    ModelServerError,
)
from bot.llm.usage import Spender
from bot.metrics import Metrics
from bot.store.database import Database
from tests.fakes.openai import Deltas, FakeOpenAI
from tests.store.test_usage import NOW, ledger
from tests.test_metrics import samples

ASKED = Spender("answer", 5, 2)
QUESTION = [ChatMessage("system", "Be brief."), ChatMessage("user", "Capital of France?")]


async def test_an_answer_comes_without_the_model_s_thinking_and_the_request_says_what_was_configured(
    endpoint: tuple[FakeOpenAI, openai.AsyncOpenAI],
) -> None:
    fake, client = endpoint
    fake.reply("<think>France… its capital is Paris.</think>Paris.")
    chat = ChatModel(client, max_tokens=64, temperature=None, tokens_field="max_tokens")
    assert await chat.complete("gpt-4o-mini", QUESTION, spender=ASKED) == "Paris."
    (request,) = fake.chat_requests
    assert request["max_tokens"] == 64 and "temperature" not in request and "max_completion_tokens" not in request
    assert [m["role"] for m in request["messages"]] == ["system", "user"]


async def test_pictures_go_with_the_question_as_image_parts(endpoint: tuple[FakeOpenAI, openai.AsyncOpenAI]) -> None:
    fake, client = endpoint
    png = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(png, format="PNG")
    picture = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    chat = ChatModel(client, max_tokens=64, temperature=0.2)
    await chat.complete("gpt-4o-mini", [ChatMessage("user", "What is this?", images=(picture,))], spender=ASKED)
    (request,) = fake.chat_requests
    assert request["temperature"] == 0.2 and request["max_completion_tokens"] == 64
    assert request["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": picture}},
    ]


async def test_a_streamed_answer_keeps_thinking_apart_and_its_tokens_are_recorded(
    endpoint: tuple[FakeOpenAI, openai.AsyncOpenAI], db: Database
) -> None:
    fake, client = endpoint
    fake.reply("<think>Hmm, France.</think>Paris is the capital.")
    counted = ledger(db, [])
    chat = ChatModel(client, max_tokens=64, temperature=None, ledger=counted)
    stream = chat.stream("gpt-4o-mini", QUESTION, spender=ASKED)
    deltas = [delta async for delta in stream.deltas]
    assert "".join(d.text for d in deltas if d.thinking) == "Hmm, France."
    assert "".join(d.text for d in deltas if not d.thinking) == "Paris is the capital."
    assert stream.usage.prompt_tokens and stream.usage.completion_tokens
    await counted.close()
    (total,) = await counted.store.totals(5, NOW - dt.timedelta(days=1))
    assert (total.model, total.purpose, total.calls) == ("gpt-4o-mini", "answer", 1)
    assert total.prompt_tokens == stream.usage.prompt_tokens


async def test_a_streamed_answer_is_read_from_each_chunk_as_the_server_sent_it(
    endpoint: tuple[FakeOpenAI, openai.AsyncOpenAI], db: Database
) -> None:
    """Chunks are read as JSON, field by field (not built into the client's typed objects): thinking sent apart under
    either name servers use, chunks with no content or only a role, and the usage in the last chunk all come out as
    the typed objects gave them."""
    fake, client = endpoint
    fake.reply(
        Deltas(
            [
                {"role": "assistant"},
                {"reasoning_content": "France, so "},
                {"reasoning": "Paris."},
                {"content": None},
                {"content": "Paris is "},
                {"content": "<thi"},  # the start of a tag, held until the next chunk says what it is
                {"content": "s city."},
            ]
        )
    )
    chat = ChatModel(client, max_tokens=64, temperature=None)
    stream = chat.stream("gpt-4o-mini", QUESTION, spender=ASKED)
    deltas = [delta async for delta in stream.deltas]
    assert "".join(d.text for d in deltas if d.thinking) == "France, so Paris."
    assert "".join(d.text for d in deltas if not d.thinking) == "Paris is <this city."
    (reported,) = fake.usage_reported
    assert (stream.usage.prompt_tokens, stream.usage.completion_tokens) == (
        reported["prompt_tokens"],
        reported["completion_tokens"],
    )


@pytest.mark.parametrize(
    ("status", "error", "message", "kind"),
    [
        (429, ModelRateLimited, "rate-limiting the bot right now", "rate_limit"),
        (401, ModelAuthFailed, "rejected the bot's API key", "auth"),
        (500, ModelServerError, "The model provider had an error", "api_error"),
    ],
)
async def test_each_provider_failure_is_a_short_message_of_its_own_and_counted(
    endpoint: tuple[FakeOpenAI, openai.AsyncOpenAI], status: int, error: type[Exception], message: str, kind: str
) -> None:
    fake, client = endpoint
    metrics = Metrics()
    chat = ChatModel(client, max_tokens=64, temperature=None, metrics=metrics)
    fake.fail_next(status, path_prefix="/chat")
    with pytest.raises(error, match=message):
        await chat.complete("gpt-4o-mini", QUESTION, spender=ASKED)
    fake.fail_next(status, path_prefix="/chat")
    with pytest.raises(error, match=message):
        _ = [delta async for delta in chat.stream("gpt-4o-mini", QUESTION, spender=ASKED).deltas]
    assert samples(metrics)[("teachbot_model_errors_total", (("kind", kind),))] == 2


async def test_a_retired_model_is_named_so_an_admin_can_switch(endpoint: tuple[FakeOpenAI, openai.AsyncOpenAI]) -> None:
    fake, client = endpoint
    fake.retire("gpt-4o")
    chat = ChatModel(client, max_tokens=64, temperature=None)
    with pytest.raises(ModelNotFound, match=r"^The model `gpt-4o` is not available at the provider\. An admin can"):
        await chat.complete("gpt-4o", QUESTION, spender=ASKED)
