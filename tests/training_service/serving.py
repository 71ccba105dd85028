"""A real `transformers serve` (an existing OpenAI-compatible server that runs on a CPU) for tests, on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def running_transformers_serve(directory: Path, *, timeout_s: float = 90.0) -> AsyncIterator[str]:
    """`transformers serve` started in `directory` (so a request for model `X` loads `directory/X`); yields its
    OpenAI base URL once /health answers, and stops it on exit."""
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "transformers.cli.transformers",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--device",
        "cpu",
        "--log-level",
        "warning",
        cwd=directory,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(timeout_s):
            while True:  # the server is up when /health answers (or it died: then say why)
                if process.returncode is not None:
                    assert process.stderr is not None
                    raise RuntimeError(f"transformers serve exited: {(await process.stderr.read())[-2000:]!r}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{url}/health") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.2)
        yield f"{url}/v1"
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


async def loaded_models(base_url: str) -> set[str]:
    """The models the server has loaded now (`GET /v1/models`, status "loaded")."""
    async with aiohttp.ClientSession() as session, session.get(f"{base_url}/models") as response:
        body = await response.json()
    return {m["id"] for m in body["data"] if (m.get("status") or {}).get("value") == "loaded"}
