"""A loopback fake of vLLM's OpenAI-compatible server with runtime LoRA updating (--enable-lora and
VLLM_ALLOW_RUNTIME_LORA_UPDATING=True), as strict as vLLM's serving_models.py:

- `POST /v1/load_lora_adapter {"lora_name", "lora_path"}`: 400 when either is missing or the name is already loaded,
  404 "No adapter found" when the path has no adapter_config.json, 400 when that file is not a LoRA config; on success
  a plain-text "Success: ..." body.
- `POST /v1/unload_lora_adapter {"lora_name"}`: 404 for a name that is not loaded.
- `GET /v1/models`: the base model, then the adapters (`parent` = base).
- `POST /v1/chat/completions`: 404 `The model `X` does not exist.` for unknown names; records the model asked for.
- `restart()` forgets the adapters loaded at run time, like a restarted vLLM.
Errors have vLLM's shape: `{"error": {"message", "type", "param", "code": <HTTP status>}}`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.loopback import serve

Json = dict[str, Any]


def _error(status: int, message: str, kind: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": kind, "param": None, "code": status}}, status=status
    )


class FakeVLLM:
    def __init__(self, base_model: str = "tiny-base", *, api_key: str | None = None) -> None:
        self.base_model = base_model
        self.api_key = api_key
        self.adapters: dict[str, str] = {}  # name -> path, in load order
        self.chat_models: list[str] = []  # the model of every chat completion asked for
        self.load_requests: list[Json] = []
        self.restarts = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> FakeVLLM:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/load_lora_adapter", self._load)
        app.router.add_post("/v1/unload_lora_adapter", self._unload)
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner, self.port = await serve(app)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def restart(self) -> None:
        """Like a vLLM restart: adapters loaded at run time are gone."""
        self.adapters.clear()
        self.restarts += 1

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": "Unauthorized"}, status=401)
        return None

    async def _body(self, request: web.Request) -> Json | web.Response:
        try:
            body: Any = await request.json()
        except json.JSONDecodeError:
            return _error(400, "Invalid JSON body", "BadRequestError")
        if not isinstance(body, dict):
            return _error(400, "Expected a JSON object", "BadRequestError")
        return body  # pyright: ignore[reportUnknownVariableType]

    async def _models(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        now = int(time.time())
        cards = [
            {
                "id": self.base_model,
                "object": "model",
                "created": now,
                "owned_by": "vllm",
                "root": self.base_model,
                "parent": None,
                "max_model_len": 2048,
            }
        ]
        cards += [
            {"id": name, "object": "model", "created": now, "owned_by": "vllm", "root": path, "parent": self.base_model}
            for name, path in self.adapters.items()
        ]
        return web.json_response({"object": "list", "data": cards})

    async def _load(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        self.load_requests.append(body)
        name, path = body.get("lora_name"), body.get("lora_path")
        if not name or not path:
            return _error(400, "Both 'lora_name' and 'lora_path' must be provided.", "InvalidUserInput")
        if name in self.adapters:
            return _error(400, f"The lora adapter '{name}' has already been loaded.", "InvalidUserInput")
        config = Path(str(path)) / "adapter_config.json"
        if not config.is_file():
            return _error(404, f"Loading lora {name} failed: No adapter found for {path}", "NotFoundError")
        try:
            adapter: Any = json.loads(config.read_text())
        except (OSError, json.JSONDecodeError):
            adapter = None
        if not isinstance(adapter, dict) or adapter.get("peft_type") != "LORA" or not adapter.get("r"):
            return _error(400, f"Loading lora {name} failed: not a LoRA adapter config", "BadRequestError")
        self.adapters[str(name)] = str(path)
        return web.Response(text=f"Success: LoRA adapter '{name}' added successfully.")

    async def _unload(self, request: web.Request) -> web.Response:
        if denied := self._unauthorized(request):
            return denied
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        name = body.get("lora_name")
        if not name and not body.get("lora_int_id"):
            return _error(400, "either 'lora_name' and 'lora_int_id' needs to be provided.", "InvalidUserInput")
        if name not in self.adapters:
            return _error(404, f"The lora adapter '{name}' cannot be found.", "NotFoundError")
        del self.adapters[str(name)]
        return web.Response(text=f"Success: LoRA adapter '{name}' removed successfully.")

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if denied := self._unauthorized(request):
            return denied
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        model = str(body.get("model"))
        self.chat_models.append(model)
        if model != self.base_model and model not in self.adapters:
            return _error(404, f"The model `{model}` does not exist.", "NotFoundError")
        content = f"[{model}] answer"
        if body.get("stream"):
            return await self._stream(request, model, content)
        return web.json_response(
            {
                "id": f"chatcmpl-{len(self.chat_models)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
            }
        )

    async def _stream(self, request: web.Request, model: str, content: str) -> web.StreamResponse:
        """A streamed answer as vLLM sends it: the role, the text, the finish, the usage when asked, then [DONE]."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        created = int(time.time())
        for delta, finish in (({"role": "assistant", "content": ""}, None), ({"content": content}, None), ({}, "stop")):
            chunk = {
                "id": f"chatcmpl-{len(self.chat_models)}",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            }
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response
