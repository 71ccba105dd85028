"""Voice activity detection over 20 ms frames of 16 kHz mono audio, with the Silero VAD model faster-whisper ships."""

from __future__ import annotations

import importlib
import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np

from bot.speech.audio import Samples

# Silero VAD v6 at 16 kHz reads windows of 512 new samples plus the previous window's last 64 as context.
_WINDOW = 512
_CONTEXT = 64
_STATE_SHAPE = (1, 1, 128)


def silero_model_path() -> Path:
    """The Silero VAD ONNX file inside the installed faster-whisper package."""
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("faster-whisper is not installed")
    assets = Path(spec.origin).parent / "assets"
    found = sorted(assets.glob("silero_vad*.onnx"))
    if not found:
        raise FileNotFoundError(f"no silero_vad*.onnx in {assets}")
    return found[-1]


def level_dbfs(samples: Samples) -> float:
    """RMS level of float samples in [-1, 1], in dB relative to full scale (-120 for digital silence)."""
    if samples.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20.0 * float(np.log10(max(rms, 1e-6)))


class SileroModel:
    """The ONNX session, loaded once on first use and shared by every speaker's detector (run() is thread-safe)."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._session: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        with self._lock:
            if self._session is None:
                onnxruntime: Any = importlib.import_module("onnxruntime")
                options = onnxruntime.SessionOptions()
                # One window costs about 0.1 ms on one thread; more threads only add contention with Whisper.
                options.inter_op_num_threads = 1
                options.intra_op_num_threads = 1
                self._session = onnxruntime.InferenceSession(
                    str(self._path or silero_model_path()), sess_options=options, providers=["CPUExecutionProvider"]
                )
            return self._session

    def speech_probability(
        self, window: Samples, state: tuple[Samples, Samples]
    ) -> tuple[float, tuple[Samples, Samples]]:
        """P(speech) for one 576-sample input (context + window), and the recurrent state to pass next time."""
        session = self._loaded()
        h, c = state
        result: list[Any] = session.run(None, {"input": window[np.newaxis, :], "h": h, "c": c})
        out: Samples = np.asarray(result[0], np.float32)
        return float(out.reshape(-1)[0]), (np.asarray(result[1], np.float32), np.asarray(result[2], np.float32))


class VoiceActivityDetector:
    """One speaker's detector: `is_speech(frame)` for consecutive 16 kHz frames of any length (20 ms normally)."""

    def __init__(self, model: SileroModel, *, threshold: float = 0.5, min_level_dbfs: float = -55.0) -> None:
        self._model = model
        self._threshold = threshold
        self._min_level = min_level_dbfs
        self._pending: Samples = np.zeros(0, np.float32)
        self._context: Samples = np.zeros(_CONTEXT, np.float32)
        self._state: tuple[Samples, Samples] = (np.zeros(_STATE_SHAPE, np.float32), np.zeros(_STATE_SHAPE, np.float32))
        self._probability = 0.0

    @property
    def probability(self) -> float:
        return self._probability

    def is_speech(self, frame: Samples) -> bool:
        loud = level_dbfs(frame) >= self._min_level
        self._pending = np.concatenate([self._pending, frame.astype(np.float32, copy=False)])
        while self._pending.size >= _WINDOW:
            window, self._pending = self._pending[:_WINDOW], self._pending[_WINDOW:]
            if level_dbfs(window) < self._min_level:
                # Quiet windows skip the model (a silent stream costs nothing); its state waits for the next sound.
                self._probability = 0.0
            else:
                self._probability, self._state = self._model.speech_probability(
                    np.concatenate([self._context, window]), self._state
                )
            self._context = window[-_CONTEXT:]
        return loud and self._probability >= self._threshold

    def reset(self) -> None:
        self._pending = np.zeros(0, np.float32)
        self._context = np.zeros(_CONTEXT, np.float32)
        self._state = (np.zeros(_STATE_SHAPE, np.float32), np.zeros(_STATE_SHAPE, np.float32))
        self._probability = 0.0
