"""A loopback fake of the edge-tts websocket service: takes speech.config and SSML, answers with MP3 audio frames.

Frames follow the service as edge-tts reads them: text frames are `headers\\r\\n\\r\\nbody`; binary audio frames are a
2-byte big-endian header length, the headers, then MP3 data.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

import av
import numpy as np
from aiohttp import WSMsgType, web

from tests.fakes.loopback import serve


def mp3_tone(seconds: float, rate: int = 24_000) -> bytes:
    """Real MP3 audio (a tone) of the given length, encoded with PyAV."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=rate, layout="mono")
        t = np.arange(int(rate * seconds)) / rate
        pcm = (0.3 * np.sin(2 * math.pi * 330 * t) * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


class FakeEdgeTTS:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []  # {"voice": ..., "text": ...}
        self.fail = False
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> FakeEdgeTTS:
        app = web.Application()
        app.router.add_get("/edge/v1", self._ws)
        self._runner, self.port = await serve(app)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def endpoint(self) -> str:
        return f"ws://127.0.0.1:{self.port}/edge/v1?TrustedClientToken=fake"

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if self.fail:
            await ws.close()
            return ws
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            headers, _, body = msg.data.partition("\r\n\r\n")
            if "Path:ssml" not in headers:
                continue  # speech.config
            voice = re.search(r"name='([^']+)'", body)
            text = re.sub(r"<[^>]+>", "", body).strip()
            self.requests.append({"voice": voice.group(1) if voice else None, "text": text})
            request_id = re.search(r"X-RequestId:(\w+)", headers)
            rid = request_id.group(1) if request_id else "0"
            await ws.send_str(f"X-RequestId:{rid}\r\nContent-Type:application/json\r\nPath:turn.start\r\n\r\n{{}}")
            audio = mp3_tone(0.25 * max(1, len(text.split())))
            head = f"X-RequestId:{rid}\r\nContent-Type:audio/mpeg\r\nPath:audio\r\n".encode()
            for start in range(0, len(audio), 4096):
                await ws.send_bytes(len(head).to_bytes(2, "big") + head + audio[start : start + 4096])
            await ws.send_str(f"X-RequestId:{rid}\r\nContent-Type:application/json\r\nPath:turn.end\r\n\r\n{{}}")
        return ws
