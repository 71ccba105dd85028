"""Streaming chat completions over any OpenAI-compatible endpoint, with provider errors turned into user messages."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal, cast

import attrs
import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from bot.errors import ServiceUnavailable
from bot.i18n import _
from bot.llm.reasoning import Delta, ThinkSplitter, answer_only
from bot.llm.sse import JSONEvents, json_fields
from bot.llm.tokens import estimate_tokens
from bot.llm.usage import Spender, TokenUsage, UsageLedger
from bot.metrics import Metrics, ModelErrorKind

_log = logging.getLogger(__name__)


class ModelRateLimited(ServiceUnavailable):
    pass


class ModelAuthFailed(ServiceUnavailable):
    pass


class ModelTimedOut(ServiceUnavailable):
    pass


class ModelServerError(ServiceUnavailable):
    pass


class ModelNotFound(ServiceUnavailable):
    pass


@attrs.frozen
class ChatMessage:
    role: str  # system | user | assistant
    content: str
    # Pictures sent with a user message, as data URLs (`data:image/png;base64,…`).
    images: tuple[str, ...] = ()


@attrs.frozen
class Usage:
    prompt_tokens: int | None
    completion_tokens: int | None
    cached_tokens: int | None = None


def reported_usage(usage: object) -> Usage:
    """The tokens a provider reported, from the `usage` object as sent (cached prompt tokens where it says: OpenAI's
    `prompt_tokens_details`); a count that is missing or not a number is unknown."""
    fields = json_fields(usage)
    return Usage(
        _token_count(fields.get("prompt_tokens")),
        _token_count(fields.get("completion_tokens")),
        _token_count(json_fields(fields.get("prompt_tokens_details")).get("cached_tokens")),
    )


def _token_count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@attrs.define
class ChatStream:
    """Answer and thinking deltas of one completion; `usage` is filled once the stream ends (when the server reports
    it)."""

    deltas: AsyncIterator[Delta]
    usage: Usage = attrs.field(factory=lambda: Usage(None, None))


def provider_error(exc: Exception, model: str) -> ServiceUnavailable:
    """The user-facing error for an OpenAI client exception (the details go to the log, not to Discord)."""
    if isinstance(exc, openai.RateLimitError):
        return ModelRateLimited(_("The model provider is rate-limiting the bot right now. Try again in a minute."))
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return ModelAuthFailed(_("The model provider rejected the bot's API key. An admin needs to check it."))
    if isinstance(exc, openai.APITimeoutError):
        return ModelTimedOut(_("The model took too long to answer. Try again."))
    if isinstance(exc, openai.NotFoundError):
        return ModelNotFound(
            _("The model `{model}` is not available at the provider. An admin can switch models.", model=model)
        )
    if isinstance(exc, openai.APIConnectionError):
        return ModelServerError(_("The bot could not reach the model provider. Try again shortly."))
    return ModelServerError(_("The model provider had an error. Try again shortly."))


def error_kind(exc: Exception) -> ModelErrorKind:
    """The kind of a failed call to the model endpoint, as counted in the metrics (same split as `provider_error`)."""
    if isinstance(exc, openai.RateLimitError):
        return "rate_limit"
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return "auth"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.NotFoundError):
        return "not_found"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    return "api_error"


class ChatModel:
    """Thin layer over `openai.AsyncOpenAI` chat completions. Every call says whom it is for (`Spender`), and the
    tokens the provider reports are recorded here, in one place, with the `ledger`."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        max_tokens: int,
        temperature: float | None,
        metrics: Metrics | None = None,
        tokens_field: Literal["max_completion_tokens", "max_tokens"] = "max_completion_tokens",
        reasoning_effort: str | None = None,
        ledger: UsageLedger | None = None,
    ) -> None:
        self._client = client
        self._tokens_field = tokens_field
        self._reasoning_effort = reasoning_effort
        self._metrics = metrics
        self._ledger = ledger
        self._max_tokens = max_tokens
        self._temperature = temperature

    async def complete(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        spender: Spender,
        timeout_s: float | None = None,
        json_object: bool = False,
    ) -> str:
        """One whole answer, without the model's thinking (no streaming, no client retries: the caller decides what a
        failure means)."""
        client = (
            self._client.with_options(max_retries=0, timeout=timeout_s)
            if timeout_s is not None
            else self._client.with_options(max_retries=0)
        )
        body = self._body(model, messages)
        if json_object:
            body["response_format"] = {"type": "json_object"}
        try:
            completion = await client.post("/chat/completions", body=body, cast_to=ChatCompletion)
        except openai.OpenAIError as exc:
            _log.warning("completion with %s failed: %s: %s", model, type(exc).__name__, exc)
            self._count(exc)
            raise provider_error(exc, model) from exc
        answer = (completion.choices[0].message.content or "") if completion.choices else ""
        usage = reported_usage(completion.usage.model_dump() if completion.usage is not None else None)
        await self._record(spender, model, usage, messages, answer)
        if not completion.choices:
            return ""
        return answer_only(completion.choices[0].message.content or "")

    def stream(self, model: str, messages: Sequence[ChatMessage], *, spender: Spender) -> ChatStream:
        result = ChatStream(deltas=_empty())
        result.deltas = self._deltas(model, messages, result, spender)
        return result

    async def _deltas(
        self, model: str, messages: Sequence[ChatMessage], result: ChatStream, spender: Spender
    ) -> AsyncIterator[Delta]:
        splitter = ThinkSplitter()
        body = self._body(model, messages) | {"stream": True, "stream_options": {"include_usage": True}}
        stream: JSONEvents | None = None
        produced: list[str] = []  # what the model sent, to estimate its tokens if it never says how many
        try:
            # Each chunk as the JSON the server sent, read field by field below: building the client's typed chunk
            # objects was the largest part of the CPU an answer cost, and its event decoding the next (bot.llm.sse).
            stream = await self._client.post(
                "/chat/completions", body=body, cast_to=ChatCompletion, stream=True, stream_cls=JSONEvents
            )
            async for sent in stream:
                chunk = json_fields(sent)
                if chunk.get("usage") is not None:  # the last chunk, as `include_usage` asks
                    result.usage = reported_usage(chunk["usage"])
                choices = chunk.get("choices")
                for choice in cast("list[object]", choices) if isinstance(choices, list) else ():
                    delta = json_fields(json_fields(choice).get("delta"))
                    # vLLM and DeepSeek send thinking apart from the content (`reasoning_content`; newer: `reasoning`).
                    reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                    if isinstance(reasoning, str) and reasoning:
                        produced.append(reasoning)
                        yield Delta(reasoning, thinking=True)
                    content = delta.get("content")
                    if isinstance(content, str) and content:
                        produced.append(content)
                        for piece in splitter.feed(content):
                            yield piece
            for delta in splitter.end():
                yield delta
        except openai.OpenAIError as exc:
            _log.warning("chat completion with %s failed: %s: %s", model, type(exc).__name__, exc)
            self._count(exc)
            raise provider_error(exc, model) from exc
        finally:
            # Also when the answer was dropped unread or cut off: the connection goes back (or the provider hears the
            # answer is no longer wanted) now, and the provider was asked, and bills what it wrote.
            if stream is not None:
                try:
                    await stream.close()
                finally:  # counted even if closing fails
                    await self._record(spender, model, result.usage, messages, "".join(produced))

    async def _record(
        self, spender: Spender, model: str, usage: Usage, messages: Sequence[ChatMessage], answer: str
    ) -> None:
        if self._ledger is None:
            return
        if usage.prompt_tokens is None and usage.completion_tokens is None:
            # No usage came (a server that does not report it, or a stream that ended before its last chunk): the
            # call still counts, at the bot's own generous estimate.
            prompt = sum(estimate_tokens(m.content) for m in messages)
            usage = Usage(prompt, estimate_tokens(answer) if answer else 0)
        tokens = TokenUsage(usage.prompt_tokens or 0, usage.completion_tokens or 0, usage.cached_tokens or 0)
        await self._ledger.record(spender, model, tokens)

    def _body(self, model: str, messages: Sequence[ChatMessage]) -> dict[str, Any]:
        """The request body, built here as plain JSON and posted as it is: `chat.completions.create` would first walk
        it against the parameters' type annotations, about 3 ms of CPU a request on the event loop (half of all the
        client's work), which a test of 400 calls at once pays in loop stalls."""
        body: dict[str, Any] = {
            "model": model,
            "messages": [_message_param(m) for m in messages],
            self._tokens_field: self._max_tokens,
        }
        if self._reasoning_effort is not None:
            body["reasoning_effort"] = self._reasoning_effort
        if self._temperature is not None:
            body["temperature"] = self._temperature
        return body

    def _count(self, exc: Exception) -> None:
        if self._metrics is not None:
            self._metrics.model_error(error_kind(exc))


def _message_param(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "assistant":
        return {"role": "assistant", "content": message.content}
    if message.images:
        return {
            "role": "user",
            "content": [
                {"type": "text", "text": message.content},
                *({"type": "image_url", "image_url": {"url": url}} for url in message.images),
            ],
        }
    return {"role": "user", "content": message.content}


async def _empty() -> AsyncIterator[Delta]:
    return
    yield
