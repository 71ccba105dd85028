"""Regenerate the committed speech fixtures with espeak-ng (Debian) and PyAV: python tests/data/make_fixtures.py."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import av
import numpy as np

HERE = Path(__file__).parent

# name -> (text, espeak voice)
PHRASES = {
    "capital_of_france": ("What is the capital of France?", "en-us"),
    "weather_question": ("Tell me about the weather on Mars.", "en-us"),
}


def speak(text: str, voice: str) -> tuple[np.ndarray, int]:
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", tmp.name, text], check=True)
        with av.open(tmp.name) as container:
            stream = container.streams.audio[0]
            rate = stream.rate
            chunks = [frame.to_ndarray().reshape(-1) for frame in container.decode(stream)]
    return np.concatenate(chunks).astype(np.int16), rate


def write(path: Path, pcm: np.ndarray, rate: int, codec: str, out_rate: int) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=out_rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=out_rate)
        for resampled in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(resampled):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def main() -> None:
    for name, (text, voice) in PHRASES.items():
        pcm, rate = speak(text, voice)
        write(HERE / f"{name}.ogg", pcm, rate, "libopus", 48000)
        write(HERE / f"{name}.wav", pcm, rate, "pcm_s16le", 16000)
        print(name, f"{len(pcm) / rate:.2f}s")


if __name__ == "__main__":
    main()
