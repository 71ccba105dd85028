"""The training service put together: database, job runner, publisher and HTTP API, started and stopped as one."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.training_service.api import TrainerApi
from bot.training_service.config import TrainerConfig
from bot.training_service.job_queue import JobRunner, Layout
from bot.training_service.publish import MergedPublisher, Publisher, VLLMPublisher
from bot.training_service.store import TrainerStore

_log = logging.getLogger(__name__)


class TrainerService:
    """`await service.start()` listens on the configured host and port (port 0: any free one, see `.port`)."""

    def __init__(self, config: TrainerConfig) -> None:
        self.config = config
        self.layout = Layout(Path(config.settings.data_dir))
        self.port = 0
        self._store: TrainerStore | None = None
        self._runner: JobRunner | None = None
        self._publisher: Publisher | None = None
        self._api: TrainerApi | None = None
        self._web: web.AppRunner | None = None

    @property
    def runner(self) -> JobRunner:
        assert self._runner is not None, "the service is not started"
        return self._runner

    @property
    def store(self) -> TrainerStore:
        assert self._store is not None, "the service is not started"
        return self._store

    @property
    def base_url(self) -> str:
        return f"http://{self.config.settings.host}:{self.port}/v1"

    async def start(self) -> None:
        s = self.config.settings
        if self.config.api_key is None and not s.loopback_only:
            raise ValueError("an API key is required when the service listens beyond loopback")
        self._store = await TrainerStore.open(self.layout.database)
        if s.publish.vllm_url:
            adapter_dir = s.publish.adapter_dir_for_vllm or str(self.layout.root.resolve() / "adapters")
            self._publisher = VLLMPublisher(
                s.publish.vllm_url,
                adapter_dir,
                api_key=self.config.vllm_api_key,
                timeout_s=s.publish.request_timeout_s,
            )
        elif s.publish.served_dir:
            self._publisher = MergedPublisher(
                Path(s.publish.served_dir),
                self.layout.root / "adapters",
                timeout_s=s.publish.merge_timeout_s,
            )
        self._runner = JobRunner(s, self._store, self.layout, self._publisher)
        api = TrainerApi(s, self._store, self._runner, self.layout, self.config.api_key)
        await api.sweep_orphans()
        await self._runner.start()
        self._api = api
        self._web = web.AppRunner(api.app(), access_log=None)
        await self._web.setup()
        site = web.TCPSite(self._web, s.host, s.port)
        await site.start()
        server: Any = site._server  # pyright: ignore[reportPrivateUsage]
        sockets: list[Any] = list(getattr(server, "sockets", None) or [])
        self.port = int(sockets[0].getsockname()[1]) if sockets else s.port
        _log.info("training service listening on %s:%d (%d base models)", s.host, self.port, len(s.base_models))

    async def stop(self) -> None:
        if self._web is not None:
            await self._web.cleanup()
            self._web = None
        if self._api is not None:
            await self._api.settle()  # an upload whose client left may still be cleaning up after itself
            self._api = None
        if self._runner is not None:
            await self._runner.stop()
            self._runner = None
        if self._publisher is not None:
            await self._publisher.close()
            self._publisher = None
        if self._store is not None:
            await self._store.close()
            self._store = None
