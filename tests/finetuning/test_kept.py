"""Kept training files: named by their digest only, found again by it, and deleted after the retention."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from bot.finetuning.kept import KeptDatasets


def test_a_kept_file_is_found_by_its_digest_until_the_retention_ends(tmp_path: Path) -> None:
    source = tmp_path / "prepared.jsonl"
    source.write_bytes(b'{"messages": []}\n')
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    kept = KeptDatasets(tmp_path / "kept", keep_days=2)
    kept.keep(source, digest)
    source.unlink()  # the upload deletes the prepared file; the kept one stays
    path = kept.path_of(digest)
    assert path is not None and path.read_bytes() == b'{"messages": []}\n'
    assert kept.path_of("../" + digest) is None and kept.path_of("x" * 64) is None  # only digests name files
    assert kept.sweep(now=time.time() + 86_400) == 0
    assert kept.sweep(now=time.time() + 3 * 86_400) == 1
    assert kept.path_of(digest) is None


def test_retention_zero_keeps_nothing(tmp_path: Path) -> None:
    source = tmp_path / "prepared.jsonl"
    source.write_bytes(b"{}\n")
    kept = KeptDatasets(tmp_path / "kept", keep_days=0)
    kept.keep(source, hashlib.sha256(b"{}\n").hexdigest())
    assert not (tmp_path / "kept").exists()
