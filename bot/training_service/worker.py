"""One training job in its own process: TRL's SFT or DPO trainer with a PEFT LoRA adapter on a causal LM.

The service starts `run_job` in a child process and reads its messages from a pipe: events (step metrics), then
`done` or `failed` with a reason a person can act on. Killing the process is how a job is cancelled.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import os
import resource
import statistics
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

from bot.training_service.job_spec import JobSpec
from bot.training_service.training_rows import DatasetProblem, check_file, trl_rows

_log = logging.getLogger("bot.training_service.worker")
Json = dict[str, Any]

# Imported by the service's fork server once, so each job's process starts without paying for these imports.
PRELOAD = ["torch", "transformers", "peft", "trl", "datasets", "bot.training_service.worker"]


class JobProblem(Exception):
    """A reason the job cannot go on, worded for the person who started it."""


def _watch_parent(parent: int) -> None:
    """End this process when the service is gone (crashed or killed), so no orphan keeps the GPU."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(3)


def _to_log(log_path: Path) -> None:
    """Libraries print progress to stdout/stderr: send both to the job's log file."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def run_job(spec: JobSpec, conn: Connection) -> None:
    """The child's entry point. `spec` is made by the service (paths are never from user input)."""
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    _to_log(Path(spec.log_path))
    _log.info("job %s: starting (%s on %s)", spec.job_id, spec.method, spec.model_name)
    try:
        result = _train(spec, conn)
    except JobProblem as exc:
        _log.warning("job %s failed: %s", spec.job_id, exc)
        conn.send({"kind": "failed", "message": str(exc)})
    except BaseException as exc:
        _log.error("job %s: unexpected error\n%s", spec.job_id, traceback.format_exc())
        conn.send({"kind": "failed", "message": _unexpected(exc, spec.job_id)})
    else:
        conn.send({"kind": "done", **result})
    finally:
        conn.close()


def _unexpected(exc: BaseException, job_id: str) -> str:
    name = type(exc).__name__
    if name == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError / torch.OutOfMemoryError
        return (
            "The GPU ran out of memory. Try a smaller batch_size, a smaller base model, or shorter examples "
            "(the service's max_length)."
        )
    if isinstance(exc, MemoryError):
        return "The machine ran out of memory. Try a smaller batch_size or a smaller base model."
    return f"Training stopped with an unexpected error ({name}). The training service's log for {job_id} has details."


def _send_event(conn: Connection, message: str, *, kind: str = "message", data: Json | None = None) -> None:
    conn.send({"kind": "event", "level": "info", "message": message, "type": kind, "data": data or {}})


def _train(spec: JobSpec, conn: Connection) -> Json:
    # torch and TRL have no complete type information: they are used through `Any` here, and only here.
    torch: Any = importlib.import_module("torch")
    datasets: Any = importlib.import_module("datasets")
    peft: Any = importlib.import_module("peft")
    transformers: Any = importlib.import_module("transformers")
    trl: Any = importlib.import_module("trl")

    method = spec.method
    train_file = Path(spec.train_file)
    try:
        examples = check_file(train_file, method)
        rows = trl_rows(train_file, method)
    except DatasetProblem as exc:
        raise JobProblem(str(exc)) from exc
    except OSError as exc:
        raise JobProblem("The training file is no longer available (it was deleted).") from exc
    if method == "supervised":
        rows = [_prompt_completion(r) for r in rows]

    device = spec.device
    on_gpu = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if on_gpu and not torch.cuda.is_available():
        raise JobProblem('The service is configured for a GPU (device = "cuda") but none is visible to it.')
    dtype = torch.float32
    if not on_gpu and spec.cpu_threads:
        torch.set_num_threads(spec.cpu_threads)
    if on_gpu:
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    name = spec.model_name
    try:
        tokenizer: Any = transformers.AutoTokenizer.from_pretrained(spec.model_path)
        model: Any = transformers.AutoModelForCausalLM.from_pretrained(spec.model_path, dtype=dtype)
    except (OSError, ValueError, KeyError) as exc:
        _log.warning("job %s: loading %s failed: %s", spec.job_id, spec.model_path, exc)
        raise JobProblem(
            f"The base model {name!r} could not be loaded from its configured location (not a model directory, "
            "or not downloadable from the hub). An operator needs to check base_models in trainer.toml."
        ) from exc
    if not getattr(tokenizer, "chat_template", None):
        raise JobProblem(f"The base model {name!r} has no chat template; use an instruct/chat model.")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    _send_event(conn, f"Loaded base model {name} ({examples} examples)")

    lora = peft.LoraConfig(
        r=spec.lora_rank,
        lora_alpha=spec.lora_alpha,
        lora_dropout=spec.lora_dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    common: Json = {
        "output_dir": spec.work_dir,
        "num_train_epochs": spec.epochs,
        "per_device_train_batch_size": spec.batch_size,
        "learning_rate": spec.learning_rate,
        "seed": spec.seed,
        "max_length": spec.max_length,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "disable_tqdm": True,
        "use_cpu": not on_gpu,
        "bf16": on_gpu and dtype == torch.bfloat16,
        "fp16": on_gpu and dtype == torch.float16,
        "dataloader_pin_memory": on_gpu,
    }
    metrics = _Metrics(conn, method)

    class Relay(transformers.TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            metrics.begin(state.max_steps)

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            metrics.step_begins.append(time.perf_counter())

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            metrics.log(state.global_step, state.max_steps, logs or {})

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            metrics.end(state.global_step)

    dataset = datasets.Dataset.from_list(rows)
    trainer: Any
    if method == "dpo":
        config = trl.DPOConfig(**common, beta=spec.beta)
        trainer = trl.DPOTrainer(
            model=model, args=config, train_dataset=dataset, processing_class=tokenizer, peft_config=lora
        )
    else:
        config = trl.SFTConfig(**common)
        trainer = trl.SFTTrainer(
            model=model, args=config, train_dataset=dataset, processing_class=tokenizer, peft_config=lora
        )
    trainer.remove_callback(transformers.PrinterCallback)
    trainer.add_callback(Relay())
    trainer.train()

    out = Path(spec.output_dir)
    trainer.model.save_pretrained(out)
    if not (out / "adapter_config.json").exists():
        raise JobProblem("Training finished but no adapter was written.")
    return {
        "trained_tokens": metrics.tokens,
        "steps": metrics.steps,
        "train_seconds": metrics.seconds,
    }


def _prompt_completion(row: Json) -> Json:
    """The last assistant message is what is learnt (loss on the answer only); the rest is the prompt."""
    messages = cast(list[Json], row["messages"])
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return {"prompt": messages[:last], "completion": [messages[last]]}


class _Metrics:
    """Turns the trainer's logs into OpenAI-shaped metrics events, and times the training steps."""

    def __init__(self, conn: Connection, method: str) -> None:
        self.conn = conn
        self.method = method
        self.tokens = 0
        self.steps = 0
        self.seconds = 0.0
        self._start = 0.0
        self.step_begins: list[float] = []

    def begin(self, total: int) -> None:
        self._start = time.perf_counter()
        _send_event(self.conn, f"Training started: {total} steps")

    def log(self, step: int, total: int, logs: dict[str, Any]) -> None:
        if "loss" not in logs:
            return  # the end-of-training summary
        if isinstance(logs.get("num_tokens"), int | float):
            self.tokens = int(logs["num_tokens"])
        data: Json = {"step": step, "total_steps": total, "train_loss": float(logs["loss"])}
        if "mean_token_accuracy" in logs:
            data["train_mean_token_accuracy"] = float(logs["mean_token_accuracy"])
        if "rewards/margins" in logs:
            data["train_reward_margin"] = float(logs["rewards/margins"])
            data["train_reward_accuracy"] = float(logs["rewards/accuracies"])
        message = f"Step {step}/{total}: training loss={data['train_loss']:.4f}"
        if "train_reward_margin" in data:
            message += f", reward margin={data['train_reward_margin']:.4f}"
        _send_event(self.conn, message, kind="metrics", data=data)

    def end(self, steps: int) -> None:
        self.seconds = time.perf_counter() - self._start
        self.steps = steps
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
        # One step, all included (forward, backward, optimizer, logging and its event): begin to next begin.
        gaps = [b - a for a, b in itertools.pairwise([*self.step_begins, time.perf_counter()])]
        _send_event(
            self.conn,
            f"Training finished: {steps} steps in {self.seconds:.1f} s",
            data={
                "steps": steps,
                "train_seconds": round(self.seconds, 4),
                "median_step_s": round(statistics.median(gaps), 5) if gaps else None,
                "peak_rss_mb": round(peak_mb, 1),
            },
        )
