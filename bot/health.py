"""The process's small HTTP endpoint: /healthz (alive), /readyz (ready to answer), /metrics (Prometheus text)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.config import HealthSettings
from bot.metrics import Metrics
from bot.wiring import Stage, Wiring

_log = logging.getLogger(__name__)

# None when the process is ready to answer; else why not, in a few words (shown in /readyz).
Readiness = Callable[[], Awaitable[str | None]]


class HealthServer:
    """An aiohttp server on the bot's own event loop, started and stopped with the bot. It only reads state: a probe
    never changes anything, so an orchestrator may call it as often as it likes."""

    def __init__(self, settings: HealthSettings, metrics: Metrics, readiness: Readiness) -> None:
        self._settings = settings
        self._metrics = metrics
        self._readiness = readiness
        self._runner: web.AppRunner | None = None
        self._was_ready = False
        self.port: int | None = None  # the port it listens on, once serving
        self.serving = asyncio.Event()

    @property
    def url(self) -> str | None:
        """Where it answers, once serving (for logs and tests)."""
        return None if self.port is None else f"http://{self._settings.host}:{self.port}"

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The (host, port) pairs it listens on, once serving."""
        runner = self._runner
        if runner is None:
            return []
        found: list[tuple[str, int]] = []
        for address in runner.addresses:  # (host, port), or (host, port, flow, scope) for IPv6
            if isinstance(address, tuple):
                host: object = address[0]  # pyright: ignore[reportUnknownVariableType]
                port: object = address[1]  # pyright: ignore[reportUnknownVariableType]
                if isinstance(host, str) and isinstance(port, int):
                    found.append((host, port))
        return found

    async def start(self) -> None:
        """Serve, unless switched off. A port that is taken is logged, not raised: the bot itself still runs."""
        settings = self._settings
        if not settings.enabled or self._runner is not None:
            return
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_text)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            _log.error(
                "cannot serve /healthz and /metrics on %s:%d (%s): give each process its own port "
                "(HEALTH_PORT or [health] port)",
                settings.host,
                settings.port,
                exc.strerror or exc,
            )
            return
        self._runner = runner
        self.port = self.addresses[0][1] if self.addresses else settings.port
        self.serving.set()
        _log.info("health and metrics on %s (/healthz, /readyz, /metrics)", self.url)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self.serving.clear()
        self.port = None

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def _readyz(self, _: web.Request) -> web.Response:
        problem = await self._readiness()
        if problem is not None and self._was_ready:  # changes only, not every probe
            _log.warning("no longer ready: %s", problem)
        elif problem is None and not self._was_ready:
            _log.info("ready (/readyz answers 200)")
        self._was_ready = problem is None
        if problem is None:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready", "reason": problem}, status=503)

    async def _metrics_text(self, _: web.Request) -> web.Response:
        return web.Response(body=self._metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def install(wiring: Wiring, settings: HealthSettings, readiness: Readiness) -> None:
    """The endpoint in lightbulb's DI: alive (/healthz) before the database opens and shards connect, until the rest
    has closed."""
    server = wiring.add(HealthServer, HealthServer(settings, wiring.get(Metrics), readiness))
    wiring.on_open(Stage.LAST, server.start)
    wiring.on_close(Stage.LAST, server.stop)
