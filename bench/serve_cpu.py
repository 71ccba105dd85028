"""Serving a trained model without a GPU: a real `transformers serve` on this machine's CPU answers chat requests for
a model of a real base model's shape (random weights, generated here: nothing downloaded), named as the training
service's MergedPublisher names it. Prints the first request's wait (the server loads the model on first use), then
per answer the time to first token and the completion tokens per second, streamed as the bot asks.

    python bench/serve_cpu.py [--model-size 0.5b] [--answers 5] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openai

from tests.training_service.serving import running_transformers_serve
from tests.training_service.tiny_model import SHAPES, build_tiny_model

NAME = "ft:qwen2.5-0.5b-instruct:bench:0123456789abcdef"
QUESTIONS = ["What is the capital of France?", "Who wrote Hamlet?", "How many legs does a spider have?"]


async def answer(client: openai.AsyncOpenAI, question: str, max_tokens: int) -> dict[str, float]:
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    stream: Any = await client.chat.completions.create(
        model=NAME,
        messages=[{"role": "user", "content": question}],
        max_tokens=max_tokens,
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content and first is None:
            first = time.perf_counter()
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    ended = time.perf_counter()
    first = first or ended
    return {"ttft_s": first - started, "tokens": tokens, "tokens_per_s": tokens / max(ended - first, 1e-9)}


async def main(model_size: str, answers: int, max_tokens: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        served = Path(tmp) / "served"
        began = time.perf_counter()
        await asyncio.to_thread(build_tiny_model, served / NAME, shape=model_size)
        print(f"{model_size} model generated in {time.perf_counter() - began:.1f} s", flush=True)
        async with (
            running_transformers_serve(served, timeout_s=300) as url,
            openai.AsyncOpenAI(api_key="none", base_url=url, max_retries=0, timeout=600) as client,
        ):
            began = time.perf_counter()
            await client.chat.completions.create(
                model=NAME, messages=[{"role": "user", "content": "Hello"}], max_tokens=1
            )
            load_s = time.perf_counter() - began
            print(f"first request (loads the model): {load_s:.1f} s", flush=True)
            runs = []
            for i in range(answers):
                runs.append(await answer(client, QUESTIONS[i % len(QUESTIONS)], max_tokens))
                print(json.dumps({k: round(v, 3) for k, v in runs[-1].items()}), flush=True)
    result = {
        "bench": "serve_cpu",
        "model_size": model_size,
        "first_load_s": round(load_s, 2),
        "ttft_p50_s": round(statistics.median(r["ttft_s"] for r in runs), 3),
        "tokens_per_s_p50": round(statistics.median(r["tokens_per_s"] for r in runs), 2),
        "completion_tokens": [int(r["tokens"]) for r in runs],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-size", default="0.5b", choices=["tiny", *SHAPES])
    parser.add_argument("--answers", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(main(args.model_size, args.answers, args.max_tokens))
