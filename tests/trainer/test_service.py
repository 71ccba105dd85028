"""The training service through the real openai client: upload, train (SFT, DPO), cancel, fail, restart, auth."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from bot.trainer.service import TrainerService
from tests.fakes.vllm import FakeVLLM
from tests.trainer.service import (
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
