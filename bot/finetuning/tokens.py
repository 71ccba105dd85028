"""Token counting with tiktoken, offline: the encoding files come from the `bpe-openai` package, not the internet."""

from __future__ import annotations

import concurrent.futures
import functools
import gzip
import hashlib
import importlib.util
import multiprocessing
import os
import shutil
import tempfile
import threading
from pathlib import Path

import tiktoken

from bot.errors import ServiceUnavailable
from bot.i18n import _

_lock = threading.Lock()
# tiktoken looks for a downloaded encoding file under TIKTOKEN_CACHE_DIR, named by the SHA-1 of its URL.
_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"


def _cache_dir() -> Path:
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    path = Path(tempfile.gettempdir()) / "teachbot-tiktoken"
    os.environ["TIKTOKEN_CACHE_DIR"] = str(path)
    return path


@functools.cache
def encoding(name: str = "o200k_base") -> tiktoken.Encoding:
    """The named encoding; the packaged copy is put in tiktoken's cache the first time (tiktoken checks its hash)."""
    with _lock:
        cache = _cache_dir()
        target = cache / hashlib.sha1(_URL.format(name=name).encode()).hexdigest()
        if not target.exists():
            spec = importlib.util.find_spec("bpe_openai")
            origin = spec.origin if spec is not None else None
            packaged = Path(origin or ".").parent / "data" / f"{name}.tiktoken.gz"
            if origin is None or not packaged.exists():
                raise ServiceUnavailable(_("The token encoding `{name}` is not available offline.", name=name))
            cache.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(f".{os.getpid()}.part")
            with gzip.open(packaged, "rb") as src, open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst)
            partial.replace(target)
        return tiktoken.get_encoding(name)


def _count(name: str, texts: list[str]) -> list[int]:
    return [len(t) for t in encoding(name).encode_ordinary_batch(texts, num_threads=1)]


class TokenCounter:
    """Counts tokens in batches, in worker processes when there are several cores (tiktoken holds the GIL).

    Batches are submitted as they fill and collected in order, so reading the file and counting overlap.
    """

    def __init__(self, name: str = "o200k_base", workers: int | None = None) -> None:
        self.name = name
        cores = os.cpu_count() or 1
        self._workers = min(4, cores) if workers is None else workers
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def submit(self, texts: list[str]) -> concurrent.futures.Future[list[int]]:
        if self._workers <= 1:
            future: concurrent.futures.Future[list[int]] = concurrent.futures.Future()
            future.set_result(_count(self.name, texts))
            return future
        if self._pool is None:
            # forkserver: workers never inherit the bot's threads or sockets.
            context = multiprocessing.get_context("forkserver")
            self._pool = concurrent.futures.ProcessPoolExecutor(self._workers, mp_context=context)
        return self._pool.submit(_count, self.name, texts)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
