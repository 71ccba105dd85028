"""Every job's training file, kept by its SHA-256 for a while, so the same data can be trained again elsewhere."""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from pathlib import Path

_log = logging.getLogger(__name__)
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class KeptDatasets:
    """Files named `<sha256>.jsonl` in their own folder: the name is the content's digest (recorded with the job),
    never anything a user typed. `keep_days` 0 keeps nothing."""

    def __init__(self, folder: Path, keep_days: float) -> None:
        self._dir = folder
        self._keep_s = keep_days * 86_400

    @property
    def enabled(self) -> bool:
        return self._keep_s > 0

    def keep(self, source: Path, sha256: str) -> None:
        """Keep a copy of a prepared dataset (blocking: call it in a thread). A hard link where the file system allows
        it, so a big dataset costs no second copy."""
        if not self.enabled or not _DIGEST.match(sha256):
            return
        self._dir.mkdir(parents=True, exist_ok=True)
        target = self._dir / f"{sha256}.jsonl"
        if target.exists():
            os.utime(target)  # trained again: kept from now on
            return
        partial = self._dir / f"{sha256}.partial"
        try:
            os.link(source, partial)
        except OSError:
            shutil.copyfile(source, partial)
        partial.replace(target)

    def path_of(self, sha256: str) -> Path | None:
        """The kept file with this digest, if it is still kept."""
        if not _DIGEST.match(sha256):
            return None
        path = self._dir / f"{sha256}.jsonl"
        return path if path.is_file() else None

    def sweep(self, now: float | None = None) -> int:
        """Delete kept files older than the retention (blocking); returns how many."""
        if not self._dir.is_dir():
            return 0
        now = time.time() if now is None else now
        removed = 0
        for path in self._dir.iterdir():
            if not re.match(r"^[0-9a-f]{64}\.(jsonl|partial)$", path.name):
                continue
            if not self.enabled or now - path.stat().st_mtime > self._keep_s:
                path.unlink(missing_ok=True)
                removed += 1
        if removed:
            _log.info("removed %d kept training file(s) past their retention", removed)
        return removed
