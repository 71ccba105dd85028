"""What one training job's process is told: the job, where its files are, and every resolved setting."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from bot.job_status import ACTIVE, TERMINAL, JobStatus

__all__ = ["ACTIVE", "TERMINAL", "Hyperparameters", "JobSpec", "JobStatus", "Method"]

# How a job trains (OpenAI's method types).
Method = Literal["supervised", "dpo"]


@attrs.frozen(kw_only=True)
class Hyperparameters:
    """A job's hyperparameters with every "auto" resolved (the API checked them once, when the job was created)."""

    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    beta: float | None = None  # DPO only

    def to_json(self) -> dict[str, Any]:
        """As OpenAI's API shows them, and as the service's database keeps them."""
        shown: dict[str, Any] = {
            "n_epochs": self.n_epochs,
            "batch_size": self.batch_size,
            "learning_rate_multiplier": self.learning_rate_multiplier,
        }
        if self.beta is not None:
            shown["beta"] = self.beta
        return shown

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> Hyperparameters:
        return cls(
            n_epochs=int(stored["n_epochs"]),
            batch_size=int(stored["batch_size"]),
            learning_rate_multiplier=float(stored["learning_rate_multiplier"]),
            beta=None if stored.get("beta") is None else float(stored["beta"]),
        )


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
