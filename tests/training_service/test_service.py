"""The training service through the real openai client: upload, train (SFT, DPO), cancel, fail, restart, auth."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import aiohttp
import openai
import pytest

from bot.training_service.service import TrainerService
from tests.fakes.vllm import FakeVLLM
from tests.training_service.service import (
    dpo_jsonl,
    qa_pairs,
    running_trainer,
    sft_jsonl,
    wait_for_event,
    wait_for_job,
)

Json = dict[str, Any]


@pytest.fixture
async def service(tmp_path: Path, tiny_model: Path, vllm: FakeVLLM) -> AsyncIterator[TrainerService]:
    models = {"tiny": str(tiny_model), "missing": str(tmp_path / "no-such-model"), "broken": str(tmp_path)}
    async with running_trainer(tmp_path / "trainer", models, vllm_url=vllm.url) as service:
        yield service


@pytest.fixture
async def client(service: TrainerService) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(api_key="unused", base_url=service.base_url, max_retries=0, timeout=30) as c:
        yield c


def answer_logprob(model: Any, tokenizer: Any, pairs: list[tuple[str, str]]) -> float:
    """Sum over the pairs of log P(answer | question) under the chat template."""
    import torch

    total = 0.0
    for question, answer in pairs:
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False
        )
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(answer + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt_ids + answer_ids])
        with torch.no_grad():
            logits = model(ids).logits[0, :-1]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        targets = ids[0, 1:]
        picked = logprobs[torch.arange(len(targets)), targets][len(prompt_ids) - 1 :]
        total += float(picked.sum())
    return total


async def upload(client: openai.AsyncOpenAI, data: bytes, name: str = "corrections.jsonl") -> str:
    return (await client.files.create(file=(name, io.BytesIO(data)), purpose="fine-tune")).id


# peft 0.21 still calls a transformers 5 API that warns about its removal in v6.
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
async def test_supervised_job_trains_an_adapter_that_makes_the_corrected_answers_likelier(
    service: TrainerService, client: openai.AsyncOpenAI, vllm: FakeVLLM, tiny_model: Path
) -> None:
    file_id = await upload(client, sft_jsonl())
    job = await client.fine_tuning.jobs.create(
        model="tiny",
        training_file=file_id,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 4}}},
        suffix="guild 42/x",
        metadata={"teachbot_job": "17"},
    )
    assert (job.status, job.metadata, job.method and job.method.type) == (
        "validating_files",
        {"teachbot_job": "17"},
        "supervised",
    )
    done = await wait_for_job(service, job.id, lambda j: j["status"] in ("succeeded", "failed"))
    assert done["status"] == "succeeded", done["error"]
    job = await client.fine_tuning.jobs.retrieve(job.id)
    assert job.fine_tuned_model == f"ft:tiny:guild-42-x:{job.id.removeprefix('ftjob-')}"
    assert job.trained_tokens and job.trained_tokens > 0 and job.finished_at is not None

    # Metrics events, OpenAI's shape, with falling loss (8 examples, batch 4, 4 epochs: 8 steps).
    events = (await client.fine_tuning.jobs.list_events(job.id, limit=100)).data[::-1]
    metrics = [e.data for e in events if e.type == "metrics"]
    assert [m["step"] for m in metrics] == list(range(1, 9)) and {m["total_steps"] for m in metrics} == {8}
    first, last = metrics[0]["train_loss"], metrics[-1]["train_loss"]
    assert last < 0.8 * first, (first, last)

    # Found again by its tag, so a client that lost the create response can reconcile.
    tagged = await client.fine_tuning.jobs.list(metadata={"teachbot_job": "17"})
    other = await client.fine_tuning.jobs.list(metadata={"teachbot_job": "18"})
    assert ([j.id for j in tagged.data], other.data, tagged.has_more) == ([job.id], [], False)

    # The adapter is on disk, loads with PEFT, and makes the trained answers likelier than the base model does.
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = service.layout.adapter(job.id)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    before = answer_logprob(base, tokenizer, qa_pairs())
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), adapter)
    after = answer_logprob(tuned, tokenizer, qa_pairs())
    assert after > before + 10, (before, after)

    # Published: vLLM serves it under the job's model name, and answers chat requests with it.
    assert vllm.adapters == {job.fine_tuned_model: str(adapter.resolve())}
    async with openai.AsyncOpenAI(api_key="x", base_url=vllm.base_url, max_retries=0) as chat:
        reply = await chat.chat.completions.create(
            model=job.fine_tuned_model, messages=[{"role": "user", "content": "hi"}]
        )
    assert reply.model == job.fine_tuned_model and vllm.chat_models == [job.fine_tuned_model]
    # vLLM restarted: the adapter is loaded again from the service's records.
    vllm.restart()
    assert await service.runner.sync_adapters() == [job.fine_tuned_model]
    assert list(vllm.adapters) == [job.fine_tuned_model]
    assert await service.runner.sync_adapters() == []


async def test_dpo_job_raises_the_reward_margin_of_the_corrected_answers(
    service: TrainerService, client: openai.AsyncOpenAI
) -> None:
    file_id = await upload(client, dpo_jsonl())
    job = await client.fine_tuning.jobs.create(
        model="tiny",
        training_file=file_id,
        method={"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 3, "beta": 0.1}}},
    )
    done = await wait_for_job(service, job.id, lambda j: j["status"] in ("succeeded", "failed"))
    assert done["status"] == "succeeded", done["error"]
    assert done["method"] == {
        "type": "dpo",
        "dpo": {"hyperparameters": {"n_epochs": 3, "batch_size": 4, "learning_rate_multiplier": 1.0, "beta": 0.1}},
    }
    events = (await client.fine_tuning.jobs.list_events(job.id, limit=100)).data[::-1]
    metrics = [e.data for e in events if e.type == "metrics"]
    assert len(metrics) == 6 and all("train_reward_accuracy" in m for m in metrics)
    margins = [m["train_reward_margin"] for m in metrics]
    assert margins[-1] > margins[0] + 0.1, margins
    assert done["fine_tuned_model"].startswith("ft:tiny::")


async def test_cancel_stops_the_training_process_within_seconds(
    service: TrainerService, client: openai.AsyncOpenAI
) -> None:
    file_id = await upload(client, sft_jsonl())
    job = await client.fine_tuning.jobs.create(
        model="tiny", training_file=file_id, hyperparameters={"n_epochs": 50, "batch_size": 1}
    )
    await wait_for_event(service, job.id, lambda e: e["type"] == "metrics")
    pid = service.runner.child_pid(job.id)
    assert pid is not None
    cancelled = await client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None and cancelled.fine_tuned_model is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert service.runner.child_pid(job.id) is None
    assert not service.layout.adapter(job.id).exists() and not service.layout.work(job.id).exists()
    newest = (await client.fine_tuning.jobs.list_events(job.id, limit=1)).data[0]
    assert newest.message == "Fine-tuning job cancelled"
    assert (await client.fine_tuning.jobs.retrieve(job.id)).status == "cancelled"
    with pytest.raises(openai.BadRequestError, match="already cancelled"):
        await client.fine_tuning.jobs.cancel(job.id)


async def test_a_base_model_that_cannot_be_loaded_fails_the_job_with_a_reason(
    service: TrainerService, client: openai.AsyncOpenAI
) -> None:
    file_id = await upload(client, sft_jsonl())
    missing = await client.fine_tuning.jobs.create(model="missing", training_file=file_id)
    broken = await client.fine_tuning.jobs.create(model="broken", training_file=file_id)
    for job_id in (missing.id, broken.id):
        done = await wait_for_job(service, job_id, lambda j: j["status"] in ("succeeded", "failed"))
        assert done["status"] == "failed" and done["fine_tuned_model"] is None
        message = done["error"]["message"]
        assert "base model" in message and "trainer.toml" in message and "Traceback" not in message
    with pytest.raises(openai.BadRequestError) as unknown:
        await client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=file_id)
    assert unknown.value.code == "model_not_available" and "Available: broken, missing, tiny" in unknown.value.message


async def test_a_bad_training_file_fails_the_job_naming_the_lines(
    service: TrainerService, client: openai.AsyncOpenAI
) -> None:
    good = sft_jsonl().splitlines(keepends=True)
    data = good[0] + b"not json\n" + b'{"messages": [{"role": "user", "content": "hi"}]}\n'
    file_id = await upload(client, data)
    job = await client.fine_tuning.jobs.create(model="tiny", training_file=file_id)
    done = await wait_for_job(service, job.id, lambda j: j["status"] in ("succeeded", "failed"))
    assert done["status"] == "failed"
    assert done["error"]["code"] == "invalid_training_file"
    assert "line 2: not valid JSON" in done["error"]["message"]
    assert "line 3: needs at least one assistant message" in done["error"]["message"]
    # DPO lines for a supervised job are refused too.
    dpo_file = await upload(client, dpo_jsonl())
    job = await client.fine_tuning.jobs.create(model="tiny", training_file=dpo_file)
    done = await wait_for_job(service, job.id, lambda j: j["status"] in ("succeeded", "failed"))
    assert "is a DPO example, but this is a supervised job" in done["error"]["message"]


async def test_requests_are_checked_and_errors_have_openais_shape(
    service: TrainerService, client: openai.AsyncOpenAI
) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        await client.fine_tuning.jobs.retrieve("ftjob-nope")
    assert missing.value.status_code == 404 and missing.value.body == {
        "message": "No such job: ftjob-nope",
        "type": "invalid_request_error",
        "param": None,
        "code": "job_not_found",
    }
    with pytest.raises(openai.NotFoundError):
        await client.files.delete("file-nope")
    file_id = await upload(client, sft_jsonl())
    for bad in (
        {"method": {"type": "rlhf"}},
        {"hyperparameters": {"n_epochs": 0}},
        {"hyperparameters": {"warmup": 3}},
        {"suffix": "x" * 65},
        {"metadata": {"k": 1}},
    ):
        with pytest.raises(openai.BadRequestError):
            await client.fine_tuning.jobs.create(model="tiny", training_file=file_id, **bad)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="Invalid file ID"):
        await client.fine_tuning.jobs.create(model="tiny", training_file="file-nope")
    assert (await client.fine_tuning.jobs.list()).data == []
    deleted = await client.files.delete(file_id)
    assert deleted.deleted and not service.layout.upload(file_id).exists()
    with pytest.raises(openai.BadRequestError, match="Invalid file ID"):
        await client.fine_tuning.jobs.create(model="tiny", training_file=file_id)


async def test_uploads_over_the_size_limit_are_refused_and_leave_nothing(tmp_path: Path, tiny_model: Path) -> None:
    async with (
        running_trainer(tmp_path, {"tiny": str(tiny_model)}, max_upload_mb=0.001) as service,
        openai.AsyncOpenAI(api_key="x", base_url=service.base_url, max_retries=0) as client,
    ):
        with pytest.raises(openai.BadRequestError, match="larger than this service accepts"):
            await upload(client, b"x" * 5000)
        assert not any((tmp_path / "files").iterdir())
        small = await client.files.create(file=("d.jsonl", io.BytesIO(b"{}\n")), purpose="fine-tune")
        assert small.bytes == 3 and service.layout.upload(small.id).read_bytes() == b"{}\n"
        with pytest.raises(openai.BadRequestError, match="purpose"):
            await client.files.create(file=("d.jsonl", io.BytesIO(b"{}\n")), purpose="assistants")


async def test_deprecated_top_level_hyperparameters_are_honoured_or_refused_never_ignored(
    service: TrainerService, client: openai.AsyncOpenAI
) -> None:
    file_id = await upload(client, sft_jsonl())
    with pytest.raises(openai.BadRequestError, match="not both") as both:
        await client.fine_tuning.jobs.create(
            model="tiny",
            training_file=file_id,
            hyperparameters={"n_epochs": 2},
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}},
        )
    assert both.value.param == "hyperparameters"
    with pytest.raises(openai.BadRequestError, match="Unknown hyperparameter: beta"):
        await client.fine_tuning.jobs.create(
            model="tiny",
            training_file=file_id,
            hyperparameters={"beta": 0.2},  # type: ignore[arg-type]
            method={"type": "dpo"},
        )
    assert (await client.fine_tuning.jobs.list()).data == []

    dpo = await client.fine_tuning.jobs.create(
        model="tiny", training_file=file_id, hyperparameters={"n_epochs": 2}, method={"type": "dpo"}
    )
    assert dpo.method and dpo.method.dpo and dpo.method.dpo.hyperparameters
    assert (dpo.method.dpo.hyperparameters.n_epochs, dpo.method.dpo.hyperparameters.beta) == (2, 0.1)
    with contextlib.suppress(openai.BadRequestError):  # the supervised file may already have failed it as DPO data
        await client.fine_tuning.jobs.cancel(dpo.id)

    # 8 examples, one epoch in batches of 8: one step, where the service's defaults (4 epochs of 4) make 8.
    job = await client.fine_tuning.jobs.create(
        model="tiny",
        training_file=file_id,
        hyperparameters={"n_epochs": 1, "batch_size": 8},
        method={"type": "supervised"},
    )
    wanted = {"n_epochs": 1, "batch_size": 8, "learning_rate_multiplier": 1.0}
    assert job.hyperparameters.model_dump(exclude_none=True) == wanted
    assert job.method and job.method.supervised and job.method.supervised.hyperparameters
    assert job.method.supervised.hyperparameters.model_dump(exclude_none=True) == wanted
    done = await wait_for_job(service, job.id, lambda j: j["status"] in ("succeeded", "failed"))
    assert done["status"] == "succeeded", done["error"]
    events = (await client.fine_tuning.jobs.list_events(job.id, limit=100)).data
    metrics = [cast(Json, e.data) for e in events if e.type == "metrics"]
    assert [(m["step"], m["total_steps"]) for m in metrics] == [(1, 1)]


async def test_a_restart_mid_job_queues_it_again_and_it_finishes(tmp_path: Path, tiny_model: Path) -> None:
    models = {"tiny": str(tiny_model)}
    async with (
        running_trainer(tmp_path, models) as first,
        openai.AsyncOpenAI(api_key="x", base_url=first.base_url, max_retries=0) as client,
    ):
        file_id = await upload(client, sft_jsonl())
        job = await client.fine_tuning.jobs.create(
            model="tiny", training_file=file_id, hyperparameters={"n_epochs": 3, "batch_size": 1}
        )
        await wait_for_event(first, job.id, lambda e: e["type"] == "metrics")
        pid = first.runner.child_pid(job.id)
    # The service stopped mid-job (its training process with it); the job is still on record as running.
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    async with running_trainer(tmp_path, models) as second:
        done = await wait_for_job(second, job.id, lambda j: j["status"] in ("succeeded", "failed", "cancelled"))
        assert done["status"] == "succeeded" and done["fine_tuned_model"], done["error"]
        events, _ = await second.store.list_events(job.id, 100)
        messages = [e["message"] for e in reversed(events)]
        assert any("starts again from the beginning" in m for m in messages)
        assert messages.count("Fine-tuning job started") == 2
        steps = [e["data"]["step"] for e in reversed(events) if e["type"] == "metrics"]
        assert steps[-24:] == list(range(1, 25))


async def test_an_api_key_is_required_and_checked(tmp_path: Path, tiny_model: Path) -> None:
    async with running_trainer(tmp_path, {"tiny": str(tiny_model)}, api_key="s3cret") as service:
        async with openai.AsyncOpenAI(api_key="wrong", base_url=service.base_url, max_retries=0) as client:
            with pytest.raises(openai.AuthenticationError) as denied:
                await client.fine_tuning.jobs.list()
            assert denied.value.status_code == 401 and denied.value.code == "invalid_api_key"
            with pytest.raises(openai.AuthenticationError):
                await client.files.create(file=("d.jsonl", io.BytesIO(b"{}\n")), purpose="fine-tune")
        async with aiohttp.ClientSession() as http, http.get(f"{service.base_url}/fine_tuning/jobs") as response:
            assert response.status == 401
            assert (await response.json())["error"]["message"].startswith("Missing API key")
        assert not (tmp_path / "files").exists() or not any((tmp_path / "files").iterdir())
        async with openai.AsyncOpenAI(api_key="s3cret", base_url=service.base_url, max_retries=0) as client:
            assert (await client.fine_tuning.jobs.list()).data == []


def test_listening_beyond_loopback_without_an_api_key_is_refused(tmp_path: Path) -> None:
    from bot.training_service.config import TrainerConfigError, load_config

    config = tmp_path / "trainer.toml"
    config.write_text('[trainer]\nhost = "0.0.0.0"\n')
    with pytest.raises(TrainerConfigError, match="TRAINER_API_KEY must be set"):
        load_config(config, env={})
    assert load_config(config, env={"TRAINER_API_KEY": "k"}).api_key == "k"
    config.write_text('[trainer]\nhost = "127.0.0.1"\nbase_model = "x"\n')
    with pytest.raises(TrainerConfigError, match=r"trainer\.base_model: unknown setting"):
        load_config(config, env={})


def test_the_committed_trainer_toml_is_valid() -> None:
    from bot.training_service.config import load_config

    config = load_config(Path(__file__).resolve().parents[2] / "trainer.toml", env={})
    assert config.settings.base_models == {"qwen2.5-1.5b-instruct": "Qwen/Qwen2.5-1.5B-Instruct"}
    assert (config.settings.concurrency, config.settings.publish.vllm_url, config.api_key) == (1, "", None)
    assert config.settings.allowed_hosts == ()
