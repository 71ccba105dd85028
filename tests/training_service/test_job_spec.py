"""A training job's hyperparameters as clients read them back (OpenAI's shape, beta only for DPO), kept and read again
unchanged, and the job's spec handed whole to the job's own process."""

from __future__ import annotations

import json
import pickle

from bot.training_service.job_spec import Hyperparameters, JobSpec

SUPERVISED = Hyperparameters(n_epochs=3, batch_size=4, learning_rate_multiplier=0.5)
DPO = Hyperparameters(n_epochs=1, batch_size=2, learning_rate_multiplier=1.0, beta=0.1)


def test_clients_see_openais_fields_and_beta_only_for_preference_training() -> None:
    assert SUPERVISED.to_json() == {"n_epochs": 3, "batch_size": 4, "learning_rate_multiplier": 0.5}
    assert DPO.to_json() == {"n_epochs": 1, "batch_size": 2, "learning_rate_multiplier": 1.0, "beta": 0.1}


def test_kept_hyperparameters_read_back_the_same_through_json() -> None:
    for hyperparameters in (SUPERVISED, DPO):
        assert Hyperparameters.from_json(json.loads(json.dumps(hyperparameters.to_json()))) == hyperparameters
    loose = {"n_epochs": "2", "batch_size": 8.0, "learning_rate_multiplier": 1, "beta": None}
    assert Hyperparameters.from_json(loose) == Hyperparameters(n_epochs=2, batch_size=8, learning_rate_multiplier=1.0)


def test_a_jobs_spec_crosses_to_its_process_unchanged() -> None:
    spec = JobSpec(
        job_id="ftjob-abc",
        method="dpo",
        model_name="qwen2.5-1.5b-instruct",
        model_path="Qwen/Qwen2.5-1.5B-Instruct",
        train_file="/data/files/file-1.jsonl",
        work_dir="/data/work/ftjob-abc",
        output_dir="/data/adapters/ftjob-abc",
        log_path="/data/logs/ftjob-abc.log",
        epochs=1,
        batch_size=2,
        learning_rate=2e-4,
        beta=0.1,
        lora_rank=16,
        lora_alpha=32,
        lora_dropout=0.05,
        max_length=2048,
        seed=42,
        device="cpu",
        cpu_threads=1,
    )
    assert pickle.loads(pickle.dumps(spec)) == spec
