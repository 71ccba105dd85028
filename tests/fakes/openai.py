"""A loopback fake of the OpenAI API: chat completions (plain and streamed), files, fine-tuning jobs, speech.

    async with FakeOpenAI() as fake:
        client = openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url)
        fake.reply("Paris.")                      # the next answers (or a callable of the request)
        fake.reply(Deltas([{"reasoning_content": "hm"}, {"content": "<th"}, {"content": "ink>…"}]))  # exact deltas
        fake.fail_next(429, times=1)              # injected faults
        fake.advance(job_id, "succeeded")         # move a fine-tuning job on
        fake.answer_as("ft:…", lambda request: …) # a model of its own (a better or worse model, a judge)

Shapes follow OpenAI's API reference; tests/fakes/test_openai.py drives it with the real `openai` client.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import io
import itertools
import json
import math
import re
import struct
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import attrs
import numpy as np
from aiohttp import web
from PIL import Image, UnidentifiedImageError

from tests.fakes.loopback import serve

Json = dict[str, Any]


@attrs.frozen
class Deltas:
    """A streamed answer given delta by delta, as a provider splits it: `{"content": …}` and, as vLLM and DeepSeek
    send a reasoning model's thinking, `{"reasoning_content": …}`. An `asyncio.Event` among them holds the rest of
    the stream until the test sets it (a model that pauses mid-answer, for as long as the test needs)."""

    items: list[Json | asyncio.Event]

    @property
    def text(self) -> str:
        return "".join(str(d.get("content") or "") for d in self.items if isinstance(d, dict))


Reply = str | Callable[[Json], str] | Deltas


@attrs.frozen
class Framing:
    """How a streamed answer's server-sent events are written, as servers and proxies differ: OpenAI and vLLM end
    lines with LF and write an event at a time; CR LF and comment lines (OpenRouter's `: OPENROUTER PROCESSING`,
    proxies' keep-alives) come from others; behind a proxy an event may arrive in two reads, cut anywhere (mid-line,
    mid-character, between CR and LF)."""

    line_end: bytes = b"\n"
    keep_alive: bool = False  # a comment line before each event
    cut_at: float | None = None  # each event written in two parts, cut at this fraction of its bytes
    # After this many content chunks, `failure` as an event, then [DONE]: by default an `error` event, as vLLM and
    # OpenAI report a failure mid-stream.
    error_after: int | None = None
    failure: bytes = json.dumps(
        {"error": {"object": "error", "message": "The server had an error.", "type": "server_error"}}
    ).encode()

    def event(self, data: bytes) -> list[bytes]:
        """One event's data as the writes that carry it."""
        end = self.line_end
        whole = (b": keep-alive" + end if self.keep_alive else b"") + b"data: " + data + end + end
        if self.cut_at is None:
            return [whole]
        cut = max(1, min(len(whole) - 1, round(len(whole) * self.cut_at)))
        return [whole[:cut], whole[cut:]]


IMAGE_MIME_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
TERMINAL = {"succeeded", "failed", "cancelled"}
# The base models OpenAI's fine-tuning takes (its guide's list); `fake.fine_tunable_models` may add others. A model a
# job of this fake made (`ft:…`) may be fine-tuned again, as at OpenAI.
FINE_TUNABLE_MODELS = frozenset(
    {
        "gpt-4.1-2025-04-14",
        "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano-2025-04-14",
        "gpt-4o-2024-08-06",
        "gpt-4o-mini-2024-07-18",
        "gpt-3.5-turbo-0125",
        "gpt-3.5-turbo-1106",
        "gpt-3.5-turbo-0613",
        "babbage-002",
        "davinci-002",
    }
)
# What `purpose` may be on an upload, in the order OpenAI lists them in its refusal.
FILE_PURPOSES = ("fine-tune", "assistants", "batch", "user_data", "responses", "vision", "evals")
HYPERPARAMETERS = ("n_epochs", "batch_size", "learning_rate_multiplier")
SUFFIX_MAX = 64
N_EPOCHS = (1, 50)


@attrs.define
class Fault:
    status: int
    path_prefix: str | None
    retry_after: float | None
    delay: float = 0.0
    model: str | None = None  # only requests for this model (chat completions)
    contains: str | None = None  # only requests whose body holds this text


@attrs.define
class Slow:
    """A request that is carried out, whose response then arrives too late (the client gave up: response lost)."""

    method: str
    path: str
    seconds: float


@attrs.define
class Hold:
    """A request held on arrival, before the fake acts on it: `arrived` is set when it comes in, and it goes on once
    the test sets `release`."""

    method: str
    path: str
    arrived: asyncio.Event = attrs.field(factory=asyncio.Event)
    release: asyncio.Event = attrs.field(factory=asyncio.Event)


@attrs.define
class Job:
    payload: Json  # the job as OpenAI reports it
    events: list[Json] = attrs.field(factory=list[Json])
    request: Json = attrs.field(factory=dict[str, Any])  # the body it was created with, as sent


# Models the fake serves besides config.toml's: names the tests use, and their dated snapshots.
SERVED_MODELS = (
    "gpt-4o-mini",
    "gpt-4o-mini-2024-07-18",
    "gpt-4o",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano",
    "tts-1",
)
# OpenAI's reasoning models refuse `max_tokens` (they take `max_completion_tokens`).
REASONING_MODEL = re.compile(r"^(o\d|gpt-5|gpt-6)")


def configured_models(path: Path = Path(__file__).parents[2] / "config.toml") -> set[str]:
    """The models config.toml names for chat, pictures, the judge and speech: what a fresh install asks for."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    llm, testing, speech = data.get("llm", {}), data.get("testing", {}), data.get("speech", {})
    names = {llm.get("default_model"), testing.get("judge_model"), speech.get("openai_model")}
    names |= set(llm.get("models", [])) | set(llm.get("vision_models", []))
    return {n for n in names if isinstance(n, str)}


def model_not_found(model: object) -> web.Response:
    """OpenAI's answer for a model that does not exist, was shut down, or the key may not use."""
    return _error(404, f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found")


def default_answer(request: Json) -> str:
    """Deterministic: echoes the last user message, so tests can tell answers apart."""
    last = next((m for m in reversed(request.get("messages", [])) if m.get("role") == "user"), {})
    content = last.get("content", "")
    text = content if isinstance(content, str) else json.dumps(content)
    return f"Answer to: {text}"


class FakeOpenAI:
    def __init__(self) -> None:
        self.api_key = "sk-fake"
        self._replies: list[Reply] = []
        self._by_model: dict[str, Reply] = {}
        self.chat_latency_s = 0.0  # every chat completion takes this long (a real model's latency)
        self.default_reply: Reply = default_answer
        self.stream_chunk_chars = 8
        self.chunk_delay_s = 0.0
        # The next streamed answer is cut off (connection dropped) after this many characters.
        self.cut_stream_after: int | None = None
        self.framing = Framing()
        self.chat_requests: list[Json] = []
        # Models chat completions answer for (anything else: 404 model_not_found, as OpenAI). Fine-tunes are served
        # once their job succeeded, and `answer_as` models too; `retire(model)` shuts one down.
        self.chat_models: set[str] = set(SERVED_MODELS) | configured_models()
        self.retired: set[str] = set()
        self.chat_refused: list[str] = []  # the models of chat completions refused as not found
        # Every usage the fake reported (plain completions always, streams when `stream_options.include_usage`
        # asked for it, embeddings), with its "model" and "purpose" ("chat" or "embeddings") added.
        self.usage_reported: list[Json] = []
        # Prompt tokens reported as served from the provider's cache (`prompt_tokens_details.cached_tokens`).
        self.cached_prompt_tokens = 0
        # Models that take image inputs; others answer 400 to an image part, as OpenAI does. None: every model.
        self.vision_models: set[str] | None = None
        self.speech_requests: list[Json] = []
        self.embedding_models: dict[str, int] = {"text-embedding-3-small": 512}  # model: dimensions (real: 1536)
        self.embedding_synonyms: dict[str, str] = {}  # word: the word it means, for the fake's sense of meaning
        self.embedding_requests: list[Json] = []
        self.requests: list[tuple[str, str, float]] = []
        self.files: dict[str, tuple[Json, bytes]] = {}
        self.file_sha256: dict[str, str] = {}  # every upload's digest, kept even when its bytes are not
        self.keep_uploads = True  # False: uploads are read chunk by chunk and only counted and hashed
        self.jobs: dict[str, Job] = {}
        self.fine_tunable_models: set[str] = set(FINE_TUNABLE_MODELS)
        self._request_holds: list[Hold] = []
        self._faults: list[Fault] = []
        self._slow: list[Slow] = []
        self._holds: list[asyncio.Event] = []
        self._gates: list[asyncio.Event] = []  # every hold, released when the fake closes
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.chat_started = asyncio.Event()
        # Streamed answers the client hung up on before the end; a real server stops generating them too.
        self.chat_streams_dropped = 0
        self.chat_dropped = asyncio.Event()

    async def __aenter__(self) -> FakeOpenAI:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/v1/{tail:.*}", self._handle)
        self._runner, self.port = await serve(app)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for gate in self._gates:
            gate.set()
        for hold in self._request_holds:
            hold.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # ----- test API -------------------------------------------------------------------------------------------

    def reply(self, *replies: Reply) -> None:
        """Queue the next answers (text, or a callable of the request body); then the default answer again."""
        self._replies.extend(replies)

    def answer_as(self, model: str, reply: Reply) -> None:
        """Every chat completion for `model` answers with `reply` (text, or a callable of the request body); the fake
        serves `model` from now on."""
        self._by_model[model] = reply

    def retire(self, model: str) -> None:
        """Shut `model` down: chat completions for it answer 404 model_not_found from now on."""
        self.retired.add(model)

    def serves(self, model: str) -> bool:
        """Whether a chat completion for `model` is answered (a configured model, one given `answer_as`, or the
        fine-tune of a job that succeeded), unless it was retired."""
        if model in self.retired:
            return False
        if model in self.chat_models or model in self._by_model:
            return True
        return any(
            j.payload.get("status") == "succeeded" and j.payload.get("fine_tuned_model") == model
            for j in self.jobs.values()
        )

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        path_prefix: str | None = None,
        retry_after: float | None = None,
        model: str | None = None,
        contains: str | None = None,
    ) -> None:
        for _ in range(times):
            self._faults.append(Fault(status, path_prefix, retry_after, model=model, contains=contains))

    def delay_next(
        self,
        seconds: float,
        *,
        times: int = 1,
        path_prefix: str | None = None,
        model: str | None = None,
        contains: str | None = None,
    ) -> None:
        for _ in range(times):
            self._faults.append(Fault(0, path_prefix, None, delay=seconds, model=model, contains=contains))

    def hold_next_chat(self) -> asyncio.Event:
        """The next chat completion is received, then answered only once the returned event is set."""
        gate = asyncio.Event()
        self._holds.append(gate)
        self._gates.append(gate)
        return gate

    def slow_next(self, method: str, path: str, *, seconds: float) -> None:
        """The next `method path` request is carried out (a job is created, a file stored), then its response is held
        for `seconds`: a client with a shorter timeout never learns what happened."""
        self._slow.append(Slow(method.upper(), path, seconds))

    def hold_next(self, method: str, path: str) -> Hold:
        """The next `method path` request is held as it arrives, before anything is done (an upload still on its way,
        a job not yet created): wait on `hold.arrived`, act meanwhile, then set `hold.release`."""
        hold = Hold(method.upper(), path)
        self._request_holds.append(hold)
        return hold

    def jobs_tagged(self, key: str, value: str) -> list[str]:
        return [i for i, j in self.jobs.items() if (j.payload.get("metadata") or {}).get(key) == value]

    def add_job_events(self, job_id: str, *events: Json) -> None:
        self.jobs[job_id].events.extend(events)

    def advance(self, job_id: str, status: str, *, steps: int = 10, error: str | None = None) -> Json:
        """Move a job on, adding the events OpenAI would log; returns the job payload."""
        job = self.jobs[job_id]
        payload = job.payload
        now = int(time.time())
        payload["status"] = status
        if status == "running":
            self._event(job, "info", "Fine-tuning job started")
            for step in range(1, steps + 1):
                loss = round(2.0 * math.exp(-step / max(steps / 3, 1)) + 0.05, 4)
                self._event(
                    job,
                    "info",
                    f"Step {step}/{steps}: training loss={loss}",
                    kind="metrics",
                    data={"step": step, "total_steps": steps, "train_loss": loss, "train_mean_token_accuracy": 0.5},
                )
        elif status == "succeeded":
            suffix = payload.get("user_provided_suffix") or "custom"
            payload["fine_tuned_model"] = f"ft:{payload['model']}:fake-org:{suffix}:{job_id[-8:]}"
            payload["trained_tokens"] = 12_345
            payload["finished_at"] = now
            self._event(job, "info", f"New fine-tuned model created: {payload['fine_tuned_model']}")
            self._event(job, "info", "The job has successfully completed")
        elif status == "failed":
            message = error or "Training failed: the dataset has too few examples."
            payload["error"] = {"code": "invalid_training_file", "message": message, "param": "training_file"}
            payload["finished_at"] = now
            self._event(job, "error", message)
        elif status == "cancelled":
            payload["finished_at"] = now
            self._event(job, "info", "Fine-tuning job cancelled")
        return payload

    def _event(self, job: Job, level: str, message: str, *, kind: str = "message", data: Json | None = None) -> None:
        job.events.append(
            {
                "object": "fine_tuning.job.event",
                "id": f"ftevent-{next(self._ids):06d}",
                "created_at": int(time.time()),
                "level": level,
                "message": message,
                "type": kind,
                "data": data or {},
            }
        )

    # ----- server ---------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        self.requests.append((request.method, path, time.monotonic()))
        model, text = None, ""
        if not request.content_type.startswith("multipart/"):
            # Buffered first: a client that gives up on a slow response must not break the handler.
            try:
                body = await request.read()
            except ConnectionError:
                # The client went away before its whole request arrived (a cancelled call over aiohttp, which sends
                # the body after the headers): as a real server, answer nothing and log nothing alarming.
                return web.Response(status=499)
            if request.content_type == "application/json" and body:
                text = body.decode(errors="replace")
                with contextlib.suppress(ValueError, AttributeError):
                    model = json.loads(body).get("model")
        for i, fault in enumerate(self._faults):
            if (
                (fault.path_prefix is None or path.startswith(fault.path_prefix))
                and fault.model in (None, model)
                and (fault.contains is None or fault.contains in text)
            ):
                del self._faults[i]
                if fault.delay:
                    await asyncio.sleep(fault.delay)  # a slow server, to make the client time out
                    break
                headers = {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else {}
                return web.json_response(
                    {"error": {"message": f"fake {fault.status}", "type": "fake_error", "code": None, "param": None}},
                    status=fault.status,
                    headers=headers,
                )
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.")
        hold = next(
            (h for h in self._request_holds if (h.method, h.path) == (request.method, path) and not h.arrived.is_set()),
            None,
        )
        if hold is not None:
            hold.arrived.set()
            await hold.release.wait()
        slow = next((s for s in self._slow if (s.method, s.path) == (request.method, path)), None)
        if slow is not None:
            self._slow.remove(slow)
            response = await self._route(request, path)
            await asyncio.sleep(slow.seconds)  # done on the server; the answer comes after the client gave up
            return response
        return await self._route(request, path)

    async def _route(self, request: web.Request, path: str) -> web.StreamResponse:
        method = request.method
        if method == "POST" and path == "/chat/completions":
            return await self._chat(request)
        if method == "GET" and path == "/models":
            names = sorted(m for m in self.chat_models | set(self._by_model) if m not in self.retired)
            return web.json_response(
                {
                    "object": "list",
                    "data": [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in names],
                }
            )
        if method == "POST" and path == "/audio/speech":
            return await self._speech(request)
        if method == "POST" and path == "/embeddings":
            return await self._embeddings(request)
        if path.startswith("/files"):
            return await self._files_route(method, path, request)
        if path.startswith("/fine_tuning/jobs"):
            return await self._jobs_route(method, path, request)
        return _error(404, f"Unknown path {path}")

    async def _embeddings(self, request: web.Request) -> web.Response:
        """OpenAI's /embeddings: `input` a non-empty string or up to 2048 non-empty strings, a known embedding model,
        `encoding_format` float or base64 (the Python client asks for base64). A text's vector is a hashed bag of its
        words, where the words of `embedding_synonyms` count as one: texts asked in other words come out close."""
        body = await request.json()
        model = body.get("model")
        if model not in self.embedding_models or model in self.retired:
            return model_not_found(model)
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if (
            not isinstance(texts, list)
            or not 1 <= len(texts) <= 2048
            or not all(isinstance(t, str) and t.strip() for t in texts)
        ):
            return _error(400, "'$.input' is invalid. Please check the API reference.", param="input")
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            return _error(400, f"Invalid value for 'encoding_format': {encoding!r}.", param="encoding_format")
        self.embedding_requests.append(body)
        data: list[Json] = []
        for index, text in enumerate(texts):
            vector = self._embed(text, self.embedding_models[model])
            shown: Any = (
                base64.b64encode(vector.astype("<f4").tobytes()).decode() if encoding == "base64" else vector.tolist()
            )
            data.append({"object": "embedding", "index": index, "embedding": shown})
        tokens = sum(len(t.split()) for t in texts)
        self.usage_reported.append(
            {"model": model, "purpose": "embeddings", "prompt_tokens": tokens, "completion_tokens": 0}
        )
        return web.json_response(
            {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        )

    def _embed(self, text: str, dimensions: int) -> np.ndarray:
        vector = np.zeros(dimensions, dtype=np.float32)
        for word in re.findall(r"[^\W_]+", text.lower()):
            concept = self.embedding_synonyms.get(word, word)
            digest = hashlib.sha256(concept.encode()).digest()
            vector[int.from_bytes(digest[:4], "little") % len(vector)] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def image_parts(self, request: Json | None = None) -> list[Json]:
        """The image parts of a chat request (default: the last one), in order."""
        body = request if request is not None else self.chat_requests[-1]
        return [
            part
            for message in body.get("messages", [])
            if isinstance(message.get("content"), list)
            for part in message["content"]
            if part.get("type") == "image_url"
        ]

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if (body.get("response_format") or {}).get("type") == "json_object" and "json" not in json.dumps(
            body.get("messages", [])
        ).lower():
            # OpenAI's rule for JSON mode.
            return _error(
                400,
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
            )
        model = str(body.get("model"))
        if not self.serves(model):
            self.chat_refused.append(model)
            return model_not_found(model)
        if "max_tokens" in body and REASONING_MODEL.match(model):
            return _error(
                400,
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                param="max_tokens",
                code="unsupported_parameter",
            )
        problem = _messages_problem(body.get("messages"), model, self.vision_models)
        if problem is not None:
            message, param = problem
            return _error(400, message, param=param)
        self.chat_requests.append(body)
        self.chat_started.set()
        if self._holds:
            await self._holds.pop(0).wait()  # a model that has not answered yet (the test decides when it does)
        if self.chat_latency_s:
            await asyncio.sleep(self.chat_latency_s)  # the model thinking, not synchronisation
        if body.get("model") in self._by_model:
            reply = self._by_model[body["model"]]
        else:
            reply = self._replies.pop(0) if self._replies else self.default_reply
        deltas = reply.items if isinstance(reply, Deltas) else None
        text = reply.text if isinstance(reply, Deltas) else reply(body) if callable(reply) else reply
        prompt_tokens = sum(len(str(m.get("content", ""))) // 4 + 1 for m in body.get("messages", []))
        completion_tokens = len(text) // 4 + 1
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            # As OpenAI reports it: how many of the prompt tokens its cache served.
            "prompt_tokens_details": {
                "cached_tokens": min(self.cached_prompt_tokens, prompt_tokens),
                "audio_tokens": 0,
            },
        }
        reported = {"model": body.get("model"), "purpose": "chat"} | usage
        completion_id = f"chatcmpl-{next(self._ids)}"
        created = int(time.time())
        if not body.get("stream"):
            self.usage_reported.append(reported)
            return web.json_response(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "logprobs": None,
                            "message": {"role": "assistant", "content": text, "refusal": None},
                        }
                    ],
                    "usage": usage,
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        def chunk(delta: Json, finish: str | None, with_usage: Json | None = None) -> bytes:
            payload: Json = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": body["model"],
                "choices": []
                if with_usage
                else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            }
            if with_usage:
                payload["usage"] = with_usage
            return json.dumps(payload).encode()

        framing = self.framing

        async def send(data: bytes) -> None:
            for part in framing.event(data):
                await response.write(part)

        try:
            await send(chunk({"role": "assistant", "content": ""}, None))
            if deltas is not None:
                for delta in deltas:
                    if isinstance(delta, asyncio.Event):
                        await delta.wait()
                        continue
                    if self.chunk_delay_s:
                        await asyncio.sleep(self.chunk_delay_s)  # pacing, as a model thinks and writes
                    await send(chunk(delta, None))
                text = ""  # given delta by delta
            size = max(1, self.stream_chunk_chars)
            cut_after, self.cut_stream_after = self.cut_stream_after, None
            for start in range(0, len(text), size):
                if self.chunk_delay_s:
                    await asyncio.sleep(self.chunk_delay_s)  # pacing a long answer, as a real model streams
                if cut_after is not None and start >= cut_after:
                    # The provider drops the connection mid-answer: no final chunk, no [DONE].
                    assert request.transport is not None
                    request.transport.close()
                    return response
                if framing.error_after is not None and start >= framing.error_after * size:
                    await send(framing.failure)
                    await send(b"[DONE]")
                    await response.write_eof()
                    return response
                await send(chunk({"content": text[start : start + size]}, None))
            await send(chunk({}, "stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                self.usage_reported.append(reported)
                await send(chunk({}, None, usage))
            await send(b"[DONE]")
            await response.write_eof()
        except ConnectionError:
            # The client closed the stream (it no longer wants the answer): stop generating.
            self.chat_streams_dropped += 1
            self.chat_dropped.set()
        return response

    async def _speech(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.speech_requests.append(body)
        words = max(1, len(str(body.get("input", "")).split()))
        pcm = _tone(24_000, 0.3 * words)
        fmt = body.get("response_format", "mp3")
        if fmt == "pcm":
            return web.Response(body=pcm, content_type="audio/pcm")
        return web.Response(body=_wav(pcm, 24_000), content_type="audio/wav")

    async def _files_route(self, method: str, path: str, request: web.Request) -> web.Response:
        parts = path.strip("/").split("/")
        if method == "POST" and len(parts) == 1:
            reader = await request.multipart()
            purpose: str | None = None
            filename, data, lines = "upload.jsonl", b"", _JsonlCheck()
            digest, size, has_file = hashlib.sha256(), 0, False
            async for part in reader:
                if part.name == "purpose":  # type: ignore[union-attr]
                    purpose = await part.text()  # type: ignore[union-attr]
                elif part.name == "file":  # type: ignore[union-attr]
                    has_file = True
                    filename = part.filename or filename  # type: ignore[union-attr]
                    digest, size, kept = hashlib.sha256(), 0, bytearray()
                    while chunk := await part.read_chunk():  # type: ignore[union-attr]
                        digest.update(chunk)
                        size += len(chunk)
                        lines.feed(chunk)  # checked as it streams: a big upload is never held whole
                        if self.keep_uploads:
                            kept += chunk
                    data = bytes(kept)
            # What OpenAI refuses in an upload: no purpose or an unknown one; for fine-tuning, anything but JSONL.
            if purpose is None:
                return _error(400, "'purpose' is a required property")
            if purpose not in FILE_PURPOSES:
                return _error(400, f"{purpose!r} is not one of {list(FILE_PURPOSES)!r} - 'purpose'")
            if not has_file:
                return _error(400, "'file' is a required property")
            if purpose == "fine-tune":
                if not filename.endswith(".jsonl"):
                    return _error(400, "Invalid file format for Fine-Tuning API. Must be .jsonl")
                if (problem := lines.finish()) is not None:
                    return _error(400, problem)
            file_id = f"file-{next(self._ids):08d}"
            self.file_sha256[file_id] = digest.hexdigest()
            meta = {
                "id": file_id,
                "object": "file",
                "bytes": size,
                "created_at": int(time.time()),
                "filename": filename,
                "purpose": purpose,
                "status": "processed",
            }
            self.files[file_id] = (meta, data)
            return web.json_response(meta)
        if method == "GET" and len(parts) == 1:
            return self._list_files(request)
        if len(parts) >= 2 and parts[1] in self.files:
            meta, data = self.files[parts[1]]
            if len(parts) == 3 and parts[2] == "content":
                return web.Response(body=data, content_type="application/octet-stream")
            if method == "DELETE":
                del self.files[parts[1]]
                return web.json_response({"id": parts[1], "object": "file", "deleted": True})
            return web.json_response(meta)
        return _error(404, "No such file")

    async def _jobs_route(self, method: str, path: str, request: web.Request) -> web.Response:
        parts = path.strip("/").split("/")[2:]  # after fine_tuning/jobs
        if not parts:
            if method == "POST":
                return await self._create_job(await request.json())
            jobs = sorted(self.jobs.values(), key=lambda j: j.payload["created_at"], reverse=True)
            # `metadata[k]=v` keeps jobs whose metadata has k equal to v (every pair given must match).
            wanted = {k[len("metadata[") : -1]: v for k, v in request.query.items() if _metadata_key(k)}
            if any(k.startswith("metadata") and not _metadata_key(k) for k in request.query):
                return _error(400, "metadata filters take the form metadata[key]=value")
            payloads = [
                j.payload for j in jobs if all((j.payload.get("metadata") or {}).get(k) == v for k, v in wanted.items())
            ]
            return self._page(payloads, request)
        job = self.jobs.get(parts[0])
        if job is None:
            return _error(404, f"Job {parts[0]} not found")
        if len(parts) == 1:
            return web.json_response(job.payload)
        if parts[1] == "cancel" and method == "POST":
            if job.payload["status"] in TERMINAL:
                return _error(400, f"Job {parts[0]} has already finished")
            return web.json_response(self.advance(parts[0], "cancelled"))
        if parts[1] == "events":
            return self._page(list(reversed(job.events)), request)
        return _error(404, "Unknown job route")

    def _list_files(self, request: web.Request) -> web.Response:
        """`GET /files`: newest first (`order=asc`: oldest first), `purpose` filter, `after`/`limit` paging."""
        purpose = request.query.get("purpose")
        metas = [meta for meta, _ in self.files.values() if purpose is None or meta["purpose"] == purpose]
        order = request.query.get("order", "desc")
        if order not in ("asc", "desc"):
            return _error(400, f"invalid order: {order}")
        # Ids grow with time here, so they order files as created_at does (and break its ties).
        metas.sort(key=lambda m: (m["created_at"], m["id"]), reverse=order == "desc")
        try:
            limit = int(request.query.get("limit", "10000"))
        except ValueError:
            return _error(400, "limit must be an integer")
        if not 1 <= limit <= 10_000:
            return _error(400, "limit must be between 1 and 10000")
        after = request.query.get("after")
        if after:
            ids = [m["id"] for m in metas]
            metas = metas[ids.index(after) + 1 :] if after in ids else []
        page = metas[:limit]
        return web.json_response(
            {
                "object": "list",
                "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": len(metas) > limit,
            }
        )

    def _page(self, items: list[Json], request: web.Request) -> web.Response:
        after = request.query.get("after")
        limit = int(request.query.get("limit", "20"))
        if after:
            ids = [i["id"] for i in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        page = items[:limit]
        return web.json_response({"object": "list", "data": page, "has_more": len(items) > limit})

    async def _create_job(self, body: Json) -> web.Response:
        # The request's shape first (as OpenAI validates it), then whether the model and the file exist.
        suffix = body.get("suffix")
        if isinstance(suffix, str) and len(suffix) > SUFFIX_MAX:
            return _error(
                400,
                f"Invalid 'suffix': string too long. Expected a string with maximum length {SUFFIX_MAX}, but got a "
                f"string with length {len(suffix)} instead.",
                param="suffix",
                code="string_above_max_length",
            )
        method, given = _job_method(body)
        for where, values in given:
            if (refusal := _n_epochs_refusal(where, values.get("n_epochs", "auto"))) is not None:
                return refusal
        model = body.get("model")
        fine_tuned = {j.payload["fine_tuned_model"] for j in self.jobs.values() if j.payload["fine_tuned_model"]}
        if model not in self.fine_tunable_models | fine_tuned:
            return _error(
                400,
                f"Model {model} is not available for fine-tuning or does not exist.",
                param="model",
                code="model_not_available",
            )
        training_file = body.get("training_file")
        if training_file not in self.files:
            return _error(400, f"invalid training_file: {training_file}", param="training_file")
        problem = _metadata_problem(body.get("metadata"))
        if problem:
            return _error(400, problem)
        job_id = f"ftjob-{next(self._ids):012d}"
        # The hyperparameters it was given, "auto" for those it was not (OpenAI picks them when the job runs).
        reported = {name: given[0][1].get(name, "auto") if given else "auto" for name in HYPERPARAMETERS}
        now = int(time.time()) + len(self.jobs)  # distinct creation times keep the newest-first order stable
        payload: Json = {
            "object": "fine_tuning.job",
            "id": job_id,
            "model": body["model"],
            "created_at": now,
            "finished_at": None,
            "fine_tuned_model": None,
            "organization_id": "org-fake",
            "result_files": [],
            "status": "validating_files",
            "validation_file": body.get("validation_file"),
            "training_file": training_file,
            "hyperparameters": reported,
            "trained_tokens": None,
            "error": None,
            "user_provided_suffix": body.get("suffix"),
            "seed": body.get("seed", 42),
            "estimated_finish": None,
            "integrations": [],
            "method": method,
            "metadata": body.get("metadata"),
        }
        self.jobs[job_id] = Job(payload, request=body)
        self._event(self.jobs[job_id], "info", f"Created fine-tuning job: {job_id}")
        return web.json_response(payload)


class _JsonlCheck:
    """OpenAI's check of a fine-tuning upload, fed chunk by chunk: every line a JSON object (blank lines aside)."""

    def __init__(self) -> None:
        self._pending = b""
        self._line = 0
        self._last_good = b""
        self.problem: str | None = None

    def feed(self, chunk: bytes) -> None:
        if self.problem is not None:
            return
        *complete, self._pending = (self._pending + chunk).split(b"\n")
        for line in complete:
            self._check(line)

    def finish(self) -> str | None:
        if self._pending:
            self._check(self._pending)
            self._pending = b""
        return self.problem

    def _check(self, line: bytes) -> None:
        self._line += 1
        if self.problem is not None or line == self._last_good or not line.strip():
            return
        try:
            if isinstance(json.loads(line), dict):
                self._last_good = line  # big test files repeat one line: it is parsed once
                return
        except ValueError:
            pass
        start = line.strip()[:3].decode(errors="replace")
        self.problem = (
            "Expected file to have JSONL format, where every line is a valid JSON dictionary. "
            f'Line {self._line} is not a dictionary (HINT: line starts with: "{start}...").'
        )


def _job_method(body: Json) -> tuple[Json, list[tuple[str, Json]]]:
    """The job's method as OpenAI reports it (every hyperparameter it was given, "auto" for the rest), and the
    hyperparameters given, each with where it was given (`method.<type>.hyperparameters`, or the older top-level
    `hyperparameters`), the method's first."""
    given: list[tuple[str, Json]] = []
    raw_method: Any = body.get("method")
    method = cast(Json, raw_method) if isinstance(raw_method, dict) else None
    kind = str(method.get("type")) if method is not None else "supervised"
    if method is not None:
        section: Any = method.get(kind)
        hyper: Any = cast(Json, section).get("hyperparameters") if isinstance(section, dict) else None
        given.append((f"method.{kind}.hyperparameters", cast(Json, hyper) if isinstance(hyper, dict) else {}))
    top: Any = body.get("hyperparameters")
    if isinstance(top, dict):
        given.append(("hyperparameters", cast(Json, top)))
    names = (*HYPERPARAMETERS, "beta") if kind == "dpo" else HYPERPARAMETERS
    chosen = given[0][1] if given else {}
    return {"type": kind, kind: {"hyperparameters": {n: chosen.get(n, "auto") for n in names}}}, given


def _n_epochs_refusal(where: str, value: Any) -> web.Response | None:
    """OpenAI's answer to `n_epochs` outside "auto" or a whole number from 1 to 50."""
    param = f"{where}.n_epochs"
    if value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return _error(
            400,
            f"Invalid type for '{param}': expected one of 'auto' or an integer, but got {type(value).__name__} "
            "instead.",
            param=param,
            code="invalid_type",
        )
    low, high = N_EPOCHS
    if value < low:
        return _error(
            400,
            f"Invalid '{param}': integer below minimum value. Expected a value >= {low}, but got {value} instead.",
            param=param,
            code="integer_below_min_value",
        )
    if value > high:
        return _error(
            400,
            f"Invalid '{param}': integer above maximum value. Expected a value <= {high}, but got {value} instead.",
            param=param,
            code="integer_above_max_value",
        )
    return None


def _metadata_key(name: str) -> bool:
    return name.startswith("metadata[") and name.endswith("]") and len(name) > len("metadata[]")


def _metadata_problem(metadata: object) -> str | None:
    """OpenAI's limits on `metadata`: an object of at most 16 string pairs, keys up to 64 and values up to 512
    characters."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        return "metadata must be an object"
    pairs: dict[object, object] = metadata  # pyright: ignore[reportUnknownVariableType]
    if len(pairs) > 16:
        return "metadata may have at most 16 keys"
    for key, value in pairs.items():
        if not isinstance(key, str) or not isinstance(value, str):
            return "metadata keys and values must be strings"
        if len(key) > 64:
            return f"metadata key {key[:16]}… is longer than 64 characters"
        if len(value) > 512:
            return f"metadata value of {key} is longer than 512 characters"
    return None


def _error(status: int, message: str, *, param: str | None = None, code: str | None = None) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}, status=status
    )


def _messages_problem(messages: Any, model: str, vision_models: set[str] | None) -> tuple[str, str] | None:
    """What OpenAI's chat completions would refuse in `messages` (message, param), or None. Content is a string, or
    for user messages a list of text and image_url parts; an image is an http(s) URL or a base64 data URL of a PNG,
    JPEG, GIF or WEBP that decodes as one."""
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array", "messages"
    for i, raw in enumerate(cast(list[Any], messages)):
        message = cast(Json, raw) if isinstance(raw, dict) else {}
        role, content = message.get("role"), message.get("content")
        if role not in ("system", "user", "assistant", "developer", "tool"):
            return f"Invalid value for 'role': {role!r}", f"messages.[{i}].role"
        if isinstance(content, str):
            continue
        if not isinstance(content, list) or not content:
            return "Invalid type for 'content': expected a string or an array of parts", f"messages.[{i}].content"
        for j, raw_part in enumerate(cast(list[Any], content)):
            part = cast(Json, raw_part) if isinstance(raw_part, dict) else {}
            where = f"messages.[{i}].content.[{j}]"
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                continue
            if part.get("type") != "image_url":
                return f"Invalid value for 'type': {part.get('type')!r}", f"{where}.type"
            if role != "user":
                return (
                    f"Image URLs are only allowed for messages with role 'user', but this message has role {role!r}",
                    where,
                )
            if vision_models is not None and model not in vision_models:
                return "Invalid content type. image_url is only supported by certain models.", f"{where}.type"
            image = part.get("image_url")
            url = cast(Json, image).get("url") if isinstance(image, dict) else None
            if not isinstance(url, str):
                return "Missing required parameter: 'image_url.url'", f"{where}.image_url.url"
            if (problem := _image_url_problem(url)) is not None:
                return problem, f"{where}.image_url.url"
            if cast(Json, image).get("detail", "auto") not in ("auto", "low", "high"):
                return "Invalid value for 'detail'", f"{where}.image_url.detail"
    return None


def _image_url_problem(url: str) -> str | None:
    if url.startswith(("https://", "http://")):
        return None
    if not url.startswith("data:"):
        return "Invalid image URL: expected an http(s) URL or a base64-encoded data URL with an image MIME type"
    header, _, data = url[5:].partition(",")
    mime, _, encoding = header.partition(";")
    if mime not in IMAGE_MIME_TYPES or encoding != "base64":
        return f"Invalid image URL: expected a base64-encoded data URL with an image MIME type, got {mime!r}"
    try:
        raw = base64.b64decode(data, validate=True)
        with Image.open(io.BytesIO(raw)) as decoded:
            decoded.verify()
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError):
        return "You uploaded an unsupported image. Please make sure your image is valid."
    return None


def _tone(rate: int, seconds: float) -> bytes:
    n = int(rate * seconds)
    return b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * i / rate))) for i in range(n))


def _wav(pcm: bytes, rate: int) -> bytes:
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + len(pcm))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    )
    return header + b"data" + struct.pack("<I", len(pcm)) + pcm
