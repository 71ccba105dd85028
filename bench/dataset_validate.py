"""Validate a generated 50 MB supervised JSONL file; report throughput and peak memory growth.

    .venv/bin/python bench/dataset_validate.py [--mb 50]

Peak RSS growth is VmHWM (the process's high-water mark) after validation minus the RSS just before it, read from
/proc/self/status; the encoding is loaded first so its one-off tables are not counted as growth.
Last line: {"bench": "dataset_validate", "lines": …, "lines_per_s": …, "peak_rss_mb": …}
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.finetuning.tokens import TokenCounter, encoding
from bot.finetuning.training_files import DatasetRules, validate_path

WORDS = ["the", "a", "bot", "model", "answer", "question", "server", "community", "teach", "correct", "train"]


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def generate(path: Path, megabytes: float) -> int:
    rng = random.Random(7)
    target = int(megabytes * 1024 * 1024)
    written = count = 0
    with open(path, "wb") as f:
        while written < target:
            question = " ".join(rng.choices(WORDS, k=rng.randint(8, 30))) + "?"
            answer = " ".join(rng.choices(WORDS, k=rng.randint(20, 90))) + "."
            line = (
                json.dumps(
                    {
                        "messages": [
                            {"role": "system", "content": "You are a helpful assistant in a Discord community."},
                            {"role": "user", "content": question},
                            {"role": "assistant", "content": answer},
                        ]
                    }
                ).encode()
                + b"\n"
            )
            f.write(line)
            written += len(line)
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=50.0)
    megabytes = parser.parse_args().mb
    encoding("o200k_base")
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "big.jsonl", Path(tmp) / "out.jsonl"
        lines = generate(source, megabytes)
        counter = TokenCounter("o200k_base")  # as the bot runs it: worker processes when there are several cores
        counter.submit(["warm up the workers"]).result()
        rss_before = status_kb("VmRSS")
        start = time.perf_counter()
        report = validate_path(source, "jsonl", DatasetRules(), out, counter)
        elapsed = time.perf_counter() - start
        counter.close()
        peak_growth_mb = max(0, status_kb("VmHWM") - rss_before) / 1024
    print(f"file: {megabytes:.0f} MB, {lines} lines; valid: {report.ok}, examples {report.examples}")
    print(f"tokens: {report.total_tokens:,}; elapsed {elapsed:.2f} s; {lines / elapsed:,.0f} lines/s")
    print(f"peak RSS growth: {peak_growth_mb:.1f} MB")
    print(
        json.dumps(
            {
                "bench": "dataset_validate",
                "lines": lines,
                "lines_per_s": round(lines / elapsed),
                "peak_rss_mb": round(peak_growth_mb, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
