"""What one training job's process is told: the job, where its files are, and every resolved setting."""

from __future__ import annotations

from typing import Literal

import attrs

from bot.store.jobs import ACTIVE, TERMINAL, JobStatus

__all__ = ["ACTIVE", "TERMINAL", "JobSpec", "JobStatus", "Method"]

# How a job trains (OpenAI's method types).
Method = Literal["supervised", "dpo"]


@attrs.frozen(kw_only=True)
class JobSpec:
    """Made by the service from a stored job and its settings (paths are generated, never from user input), and
    handed to the job's process as is: plain values only, so it pickles across the process boundary."""

    job_id: str
    method: Method
    model_name: str  # the base model as the client named it
    model_path: str  # where it loads from: a local directory or a hub id
    train_file: str
    work_dir: str  # the trainer's scratch directory
    output_dir: str  # where the adapter is saved
    log_path: str
    epochs: int
    batch_size: int
    learning_rate: float
    beta: float  # DPO only
    lora_rank: int
    lora_alpha: int
    lora_dropout: float
    max_length: int
    seed: int
    device: str  # "auto", "cpu" or "cuda"
    cpu_threads: int  # 0: torch's default
