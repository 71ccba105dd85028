"""Embeddings from the model endpoint's `/embeddings` (any OpenAI-compatible server), for finding corrections asked in
other words. Optional; a failure only leaves a question with full-text search, it never fails an answer."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import openai

from bot.llm.usage import Spender, TokenUsage, UsageLedger

_log = logging.getLogger(__name__)

BATCH = 64  # texts per request


class TextEmbedder(Protocol):
    """What finds corrections by meaning: the endpoint's `/embeddings` (Embedder) or a local model (LocalEmbedder)."""

    @property
    def model(self) -> str: ...  # the name its vectors are stored under

    async def embed(self, texts: Sequence[str], *, spender: Spender) -> np.ndarray | None: ...


class Embedder:
    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        *,
        timeout_s: float = 10.0,
        ledger: UsageLedger | None = None,
    ) -> None:
        self.model = model
        self._client = client.with_options(max_retries=0, timeout=timeout_s)
        self._ledger = ledger

    async def embed(self, texts: Sequence[str], *, spender: Spender) -> np.ndarray | None:
        """One unit-length float32 row per text, or None (logged) when the endpoint fails or answers oddly. Each
        request's reported tokens are recorded for `spender` (purpose "embeddings")."""
        rows: list[list[float]] = []
        try:
            for start in range(0, len(texts), BATCH):
                batch = list(texts[start : start + BATCH])
                reply = await self._client.embeddings.create(model=self.model, input=batch)
                if self._ledger is not None:
                    await self._ledger.record(spender, self.model, TokenUsage(reply.usage.prompt_tokens, 0))
                data = sorted(reply.data, key=lambda d: d.index)
                if len(data) != len(batch):
                    _log.warning("embeddings by %s: %d vectors for %d texts", self.model, len(data), len(batch))
                    return None
                rows += [d.embedding for d in data]
        except openai.OpenAIError as exc:
            _log.warning("embeddings by %s failed: %s: %s", self.model, type(exc).__name__, exc)
            return None
        vectors = np.asarray(rows, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] == 0:
            _log.warning("embeddings by %s came back empty", self.model)
            return None
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)
