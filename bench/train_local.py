"""Training on the project's own service: SFT then DPO through `bot.training_service` on a tiny model made here
(fixed seed), and the same SFT run by a bare TRL script in the same run as the baseline.

Speed is timed the same way on both sides, in a fresh process each (the service forks its training process; the
baseline runs as `python bench/train_local.py --bare SPEC`): the duration of one training step from TRL's
`on_step_begin` to the next (forward, backward, optimizer, logging, and on the service's side the metrics event sent
over a pipe); model loading, tokenization and process start are outside. steps/s = 1 / the median step over all
rounds (the median, because the 2 cores are shared with other work); the whole-window rates are printed too.
Both sides run with OMP_NUM_THREADS=1 (unless set otherwise), for the same reason.
overhead_ratio = baseline steps/s / service steps/s (1.0: no overhead). Rounds interleave service and baseline.
sft_loss_drop = (first step's loss - mean of the last 3) / first step's loss; dpo_margin_gain = mean reward margin of
the last 3 steps - the first step's. peak_rss_mb = the largest peak RSS of a service training process.

    python bench/train_local.py [--rounds 2] [--epochs 5] [--model-size tiny|0.5b|1.5b] [--device cpu|cuda]

--model-size builds a model of a real base model's shape (Qwen2.5-0.5B/1.5B-Instruct: layers, widths, vocabulary)
with random weights, so that a machine with a GPU reports steps/s and tokens/s of that size against bare TRL in one
command (`--model-size 0.5b --device cuda`); nothing is downloaded. With a real-sized model the loss figures say
nothing (random weights, a tiny tokenizer); tokens_per_s (trained tokens per second of the service's training
window) and step times do. On a GPU both sides train in bf16 (fp16 where bf16 is missing), as the service does.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import itertools
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openai

from bot.training_service.service import TrainerService
from tests.training_service.service import dpo_jsonl, qa_pairs, sft_jsonl, trainer_config, wait_for_job
from tests.training_service.tiny_model import SHAPES, build_tiny_model

SEED = 1234
SETTINGS: dict[str, Any] = {
    "learning_rate": 2e-2,
    "batch_size": 4,
    "lora_rank": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.0,
    "max_length": 128,
    "device": "cpu",
    "seed": SEED,
}


def bare(spec_path: str) -> None:
    """The baseline: TRL's SFTTrainer + PEFT LoRA with the same data, settings and seed, nothing around it."""
    spec = json.loads(Path(spec_path).read_text())
    torch: Any = importlib.import_module("torch")
    transformers: Any = importlib.import_module("transformers")
    trl: Any = importlib.import_module("trl")
    peft: Any = importlib.import_module("peft")
    datasets: Any = importlib.import_module("datasets")
    on_gpu = spec["device"] == "cuda"
    half = torch.bfloat16 if on_gpu and torch.cuda.is_bf16_supported() else torch.float16
    dtype = half if on_gpu else torch.float32
    tokenizer = transformers.AutoTokenizer.from_pretrained(spec["model"])
    model = transformers.AutoModelForCausalLM.from_pretrained(spec["model"], dtype=dtype)
    rows = [
        {"prompt": [{"role": "user", "content": q}], "completion": [{"role": "assistant", "content": a}]}
        for q, a in spec["pairs"]
    ]
    config = trl.SFTConfig(
        output_dir=spec["out"],
        num_train_epochs=spec["epochs"],
        per_device_train_batch_size=SETTINGS["batch_size"],
        learning_rate=SETTINGS["learning_rate"],
        seed=SEED,
        max_length=SETTINGS["max_length"],
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=not on_gpu,
        dataloader_pin_memory=on_gpu,
        bf16=on_gpu and dtype == torch.bfloat16,  # as the service does (TRL turns bf16 on by default)
        fp16=on_gpu and dtype == torch.float16,
    )
    lora = peft.LoraConfig(
        r=SETTINGS["lora_rank"],
        lora_alpha=SETTINGS["lora_alpha"],
        lora_dropout=0.0,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    window: dict[str, float] = {}
    begins: list[float] = []

    class Clock(transformers.TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            window["begin"] = time.perf_counter()

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            begins.append(time.perf_counter())

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            window["end"] = time.perf_counter()
            window["steps"] = state.global_step

    trainer = trl.SFTTrainer(
        model=model,
        args=config,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora,
    )
    trainer.remove_callback(transformers.PrinterCallback)
    trainer.add_callback(Clock())
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    gaps = [b - a for a, b in itertools.pairwise([*begins, window["end"]])]
    print(
        json.dumps(
            {
                "steps": window["steps"],
                "seconds": window["end"] - window["begin"],
                "median_step_s": statistics.median(gaps),
                "losses": losses,
            }
        )
    )


def run_bare(model: Path, pairs: list[tuple[str, str]], epochs: int, work: Path, device: str) -> dict[str, Any]:
    spec = work / "bare.json"
    spec.write_text(
        json.dumps({"model": str(model), "pairs": pairs, "epochs": epochs, "out": str(work / "bare"), "device": device})
    )
    done = subprocess.run(
        [sys.executable, __file__, "--bare", str(spec)], capture_output=True, text=True, check=True, timeout=3600
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


async def run_job(service: TrainerService, client: openai.AsyncOpenAI, data: bytes, method: Any) -> dict[str, Any]:
    file_id = (await client.files.create(file=("d.jsonl", io.BytesIO(data)), purpose="fine-tune")).id
    job = await client.fine_tuning.jobs.create(model="tiny", training_file=file_id, method=method)
    done = await wait_for_job(service, job.id, lambda j: j["status"] in ("succeeded", "failed"), timeout=3600)
    if done["status"] != "succeeded":
        raise SystemExit(f"job failed: {done['error']}")
    events = (await client.fine_tuning.jobs.list_events(job.id, limit=100)).data[::-1]
    metrics = [e.data for e in events if e.type == "metrics"]
    finished = next(e.data for e in events if e.message.startswith("Training finished"))
    return {"metrics": metrics, "trained_tokens": done.get("trained_tokens") or 0, **finished}


async def main(rounds: int, epochs: int, model_size: str, device: str) -> None:
    logging.basicConfig(level=logging.WARNING)
    # One thread per side: two OpenMP threads on 2 cores shared with other work made single steps 10x slower at
    # random moments (spinning at barriers while the other thread was descheduled), on both sides alike.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        model = await asyncio.to_thread(build_tiny_model, work / "model", seed=SEED, shape=model_size)
        print(f"{model_size} model generated in {time.perf_counter() - started:.1f} s", flush=True)
        pairs = qa_pairs() * 4  # 32 examples
        settings = SETTINGS | {"device": device}
        service = TrainerService(trainer_config(work / "svc", {"tiny": str(model)}, epochs=epochs, **settings))
        await service.start()
        try:
            async with openai.AsyncOpenAI(api_key="x", base_url=service.base_url, max_retries=0, timeout=60) as client:
                sft_runs: list[dict[str, Any]] = []
                bare_runs: list[dict[str, Any]] = []
                for _ in range(rounds):
                    sft_runs.append(await run_job(service, client, sft_jsonl(pairs), {"type": "supervised"}))
                    bare_runs.append(await asyncio.to_thread(run_bare, model, pairs, epochs, work, device))
                dpo = await run_job(service, client, dpo_jsonl(pairs), {"type": "dpo"})
        finally:
            await service.stop()
    # The median step (begin to next begin) of every round on each side: robust to other work on a shared machine.
    sft_rate = 1 / statistics.median([r["median_step_s"] for r in sft_runs])
    bare_rate = 1 / statistics.median([r["median_step_s"] for r in bare_runs])
    sft_rates = [r["steps"] / r["train_seconds"] for r in sft_runs]
    bare_rates = [r["steps"] / r["seconds"] for r in bare_runs]
    losses = [m["train_loss"] for m in sft_runs[0]["metrics"]]
    margins = [m["train_reward_margin"] for m in dpo["metrics"]]
    loss_drop = (losses[0] - statistics.mean(losses[-3:])) / losses[0]
    print(f"service SFT steps/s per round (whole training window): {[round(r, 2) for r in sft_rates]}")
    print(f"bare TRL SFT steps/s per round (whole training window): {[round(r, 2) for r in bare_rates]}")
    print(
        f"SFT loss {losses[0]:.3f} -> {statistics.mean(losses[-3:]):.3f} over {len(losses)} steps "
        f"(bare TRL: {bare_runs[0]['losses'][0]:.3f} -> {statistics.mean(bare_runs[0]['losses'][-3:]):.3f})"
    )
    print(f"DPO reward margin {margins[0]:.3f} -> {statistics.mean(margins[-3:]):.3f} over {len(margins)} steps")
    tokens_per_s = [r["trained_tokens"] / r["train_seconds"] for r in sft_runs if r["train_seconds"]]
    result = {
        "bench": "train_local",
        "model_size": model_size,
        "device": device,
        "sft_train_seconds": round(statistics.median(r["train_seconds"] for r in sft_runs), 2),
        "sft_tokens_per_s": round(statistics.median(tokens_per_s), 1) if tokens_per_s else None,
        "sft_steps_per_s": round(sft_rate, 2),
        "baseline_steps_per_s": round(bare_rate, 2),
        "overhead_ratio": round(bare_rate / sft_rate, 3),
        "sft_loss_drop": round(loss_drop, 3),
        "dpo_margin_gain": round(statistics.mean(margins[-3:]) - margins[0], 3),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in [*sft_runs, dpo]), 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bare", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--model-size", default="tiny", choices=["tiny", *SHAPES])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    if args.bare:
        bare(args.bare)
    else:
        asyncio.run(main(args.rounds, args.epochs, args.model_size, args.device))
