"""Serving finished adapters: vLLM's runtime LoRA API (GPU), or merged whole models for a server on a CPU."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from pathlib import Path
from typing import Any, Protocol, cast

import aiohttp

from bot.training_service.merge import is_complete

_log = logging.getLogger(__name__)


class PublishError(Exception):
    """The inference server did not take the adapter; the message is short and safe to show."""


class Publisher(Protocol):
    """Makes a finished job's adapter answer under its model name on an inference server."""

    async def load(self, name: str, adapter_id: str) -> None: ...

    async def sync(self, adapters: dict[str, str]) -> list[str]: ...

    async def close(self) -> None: ...


class VLLMPublisher:
    """Registers adapters with `POST /v1/load_lora_adapter` (vLLM started with --enable-lora and
    VLLM_ALLOW_RUNTIME_LORA_UPDATING=True). Runtime adapters are forgotten when vLLM restarts: `sync` reloads them."""

    def __init__(
        self, base_url: str, adapter_dir: str, *, api_key: str | None = None, timeout_s: float = 120.0
    ) -> None:
        self._url = base_url.rstrip("/")
        if self._url.endswith("/v1"):
            self._url = self._url[: -len("/v1")]
        self._adapter_dir = adapter_dir.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._session = aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s))

    async def close(self) -> None:
        await self._session.close()

    def path_for(self, adapter_id: str) -> str:
        """Where vLLM finds an adapter (the service's adapter directory as vLLM sees it)."""
        return f"{self._adapter_dir}/{adapter_id}"

    async def served(self) -> set[str]:
        """The model names the server answers to now (base models and loaded adapters)."""
        try:
            async with self._session.get(f"{self._url}/v1/models") as response:
                if response.status != 200:
                    raise PublishError(f"the inference server answered HTTP {response.status} to a model list")
                body: Any = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise PublishError(f"the inference server could not be reached ({type(exc).__name__})") from exc
        models: Any = cast(dict[str, Any], body).get("data") if isinstance(body, dict) else None
        if not isinstance(models, list):
            raise PublishError("the inference server's model list is malformed")
        return {str(cast(dict[str, Any], m).get("id")) for m in cast(list[Any], models) if isinstance(m, dict)}

    async def load(self, name: str, adapter_id: str) -> None:
        """Load one adapter under `name`; an adapter already loaded under that name counts as done."""
        payload = {"lora_name": name, "lora_path": self.path_for(adapter_id)}
        try:
            async with self._session.post(f"{self._url}/v1/load_lora_adapter", json=payload) as response:
                if response.status == 200:
                    _log.info("inference server now serves %s", name)
                    return
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PublishError(f"the inference server could not be reached ({type(exc).__name__})") from exc
        if response.status == 400 and "already been loaded" in text:
            return
        _log.warning("loading adapter %s into the inference server failed: HTTP %d %s", name, response.status, text)
        if response.status == 404 and '"detail"' in text:  # FastAPI's own 404: the route is not there
            raise PublishError(
                "the inference server has no runtime LoRA API (start vLLM with --enable-lora and "
                "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True)"
            )
        if response.status == 404:
            raise PublishError("the inference server cannot find the adapter's files (check adapter_dir_for_vllm)")
        raise PublishError(f"the inference server refused the adapter (HTTP {response.status})")

    async def sync(self, adapters: dict[str, str]) -> list[str]:
        """Load every adapter (name -> adapter id) the server does not serve now; returns the names loaded."""
        missing = [name for name in adapters if name not in await self.served()]
        for name in missing:
            await self.load(name, adapters[name])
        return missing


# The names the runner gives models (`ft:<base>:<suffix>:<id>`, see runner.model_name); anything else never becomes a
# directory name.
_SERVABLE_NAME = re.compile(r"[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,199}")


class MergedPublisher:
    """Serving without a GPU or vLLM: each finished adapter is merged into its base model and written as a whole model
    directory named after the model (`served_dir/<name>`). An OpenAI-compatible server that loads a requested model
    from a directory of that name answers to it: `transformers serve` started in `served_dir` does (it loads a model
    when first asked and unloads it when idle), so the bot asks for `<name>` exactly as it would of vLLM.

    Merging runs in its own process (torch and a whole model in memory, never in the service's event loop), one at
    a time. Merged directories stay on disk, so a restarted server needs nothing re-registered; `sync` merges any
    that were deleted."""

    def __init__(self, served_dir: Path, adapters_dir: Path, *, timeout_s: float = 1800.0) -> None:
        self._served = served_dir.absolute()  # the merge subprocess may run elsewhere
        self._adapters = adapters_dir.absolute()
        self._timeout_s = timeout_s
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        return None

    def path_for(self, name: str) -> Path:
        if not _SERVABLE_NAME.fullmatch(name):
            raise PublishError("the model name cannot be used as a directory name")
        return self._served / name

    def served(self) -> set[str]:
        """The names of the complete merged models on disk."""
        if not self._served.is_dir():
            return set()
        return {p.name for p in self._served.iterdir() if not p.name.startswith(".") and is_complete(p)}

    async def load(self, name: str, adapter_id: str) -> None:
        """Merge one adapter under `name`; a complete merged model already there counts as done."""
        target = self.path_for(name)
        adapter = self._adapters / adapter_id
        async with self._lock:
            if is_complete(target):
                return
            if not (adapter / "adapter_config.json").exists():
                raise PublishError("the adapter's files are missing")
            target.parent.mkdir(parents=True, exist_ok=True)
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.training_service.merge",
                str(adapter),
                str(target),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                _, stderr = await asyncio.wait_for(process.communicate(), self._timeout_s)
            except TimeoutError:
                process.kill()
                await process.wait()
                raise PublishError("merging the adapter into its base model took too long") from None
            if process.returncode != 0:
                tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
                _log.warning("merging %s into its base failed (exit %s): %s", name, process.returncode, tail[0])
                raise PublishError(f"merging the adapter into its base model failed (exit code {process.returncode})")
        _log.info("merged model %s written to %s", name, target)

    async def sync(self, adapters: dict[str, str]) -> list[str]:
        """Merge every adapter (name -> adapter id) that has no complete merged model; returns the names merged."""
        missing = [name for name in adapters if name not in self.served()]
        for name in missing:
            await self.load(name, adapters[name])
        return missing
