"""Serving finished adapters: vLLM's runtime LoRA API, and loading them again after vLLM restarted."""

from __future__ import annotations

import logging
from typing import Any, cast

import aiohttp

_log = logging.getLogger(__name__)


class PublishError(Exception):
    """The inference server did not take the adapter; the message is short and safe to show."""


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
