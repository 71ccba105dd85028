"""Starting a fake's aiohttp app on 127.0.0.1 at an ephemeral port."""

from __future__ import annotations

from aiohttp import web


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    """The running app and its port; `await runner.cleanup()` stops it."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # A burst of requests on new connections (200 acknowledgements at once) must not overflow the listen queue: a
    # dropped SYN is retried a whole second later, which Discord's and the provider's front ends never cause.
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    server = site._server
    assert server is not None
    return runner, server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
