"""Training that outlives OpenAI, end to end: approved corrections train a LoRA adapter in the project's own training
service (a real TRL job on a tiny model) on a file that holds none of the held-out test questions, vLLM is told about
it, and Activate makes the next answer use it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import openai

from bot.evaluation.model_test import ModelTester
from bot.finetuning.settings import BackendSettings
from bot.store.answers import AnswerStore, NewAnswer
from bot.store.corrections import CorrectionStore
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore
from bot.training_service.job_queue import model_name
from tests.e2e.test_model_retirement import SetClock, cutoff_day
from tests.e2e.test_model_testing import judge
from tests.e2e.test_training import summary
from tests.fakes.discord import FakeDiscord, Message
from tests.fakes.harness import approve_corrections, running_bot
from tests.fakes.openai import FakeOpenAI
from tests.fakes.vllm import FakeVLLM
from tests.training_service.service import running_trainer

FACTS = [
    ("What is the capital of Australia?", "Sydney.", "Canberra."),
    ("How many legs does a spider have?", "Six.", "Eight."),
    ("What is the boiling point of water at sea level?", "90 °C.", "100 °C."),
    ("Who wrote Hamlet?", "Marlowe.", "Shakespeare."),
    ("What is the largest planet?", "Saturn.", "Jupiter."),
    ("What is the chemical symbol of gold?", "Ag.", "Au."),
    ("How many continents are there?", "Five.", "Seven."),
    ("What is the freezing point of water in Fahrenheit?", "0 °F.", "32 °F."),
]


async def test_corrections_train_a_local_adapter_that_the_next_answer_uses(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, tiny_model: Path, vllm: FakeVLLM
) -> None:
    async with running_trainer(tmp_path / "service", {"tiny": str(tiny_model)}, vllm_url=vllm.url) as service:
        training = {
            "backend": "local",
            "base_url": service.base_url,
            "base_models": ["tiny"],
            "default_base_model": "tiny",
            "min_examples": 5,
            # Two of the eight corrections are held out as the test set (the minimum, once there are 4 × 2).
            "held_out_share": 0.01,
            "held_out_min": 2,
            "watch_interval_s": 0.2,
        }
        async with running_bot(discord, openai_fake, tmp_path, training=training) as built:
            # Eight corrections, taught and approved (the form and the review are tested in test_corrections.py).
            await approve_corrections(built, discord, FACTS)

            started = discord.slash("train", options={"source": "corrections"}, user=discord.admin)
            # In this one process the bot's token counters are forked by the fork server the training service warms
            # (importing torch, tens of seconds on a busy machine); as separate processes they never share it.
            await started.wait(lambda e: "train:confirm" in str(e.json.get("components")), timeout=90)
            card = started.original
            assert card is not None and "training service" in json.dumps(card.embeds)
            assert "`tiny`" in json.dumps(card.embeds)
            confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
            await confirm.wait(lambda e: e.kind == "edit")
            assert "Started training job #1" in card.content
            source, asked = await built.get(ModelTester).questions(discord.guild_id)
            test_set = {q.question for q in asked}
            assert source == "corrections" and len(test_set) == 2
            job = await built.get(JobStore).get(1)
            assert job is not None
            async with openai.AsyncOpenAI(api_key="none", base_url=service.base_url) as client:
                training_file = (await client.fine_tuning.jobs.retrieve(job.remote_id)).training_file
            received = service.layout.upload(training_file).read_bytes()  # what the service got
            questions = [json.loads(line)["messages"][-2]["content"] for line in received.splitlines()]
            assert not test_set & set(questions)
            assert sorted(questions) == sorted({q for q, _, _ in FACTS} - test_set)

            def notice() -> list[Message]:
                return [m for m in discord.bot_messages_in(discord.channel_id) if "job #1 finished" in m.content]

            (done,) = await discord.wait_for(notice, timeout=90)
            job = await built.get(JobStore).get(1)
            assert job is not None and job.backend == "local" and job.fine_tuned_model is not None
            adapter = job.fine_tuned_model
            assert adapter in done.content and adapter in vllm.adapters  # published to the inference server
            openai_fake.chat_models.add(adapter)  # the chat endpoint stands in for that server: it serves the adapter

            activate = discord.click(
                done, next(c for c in done.custom_ids if c.startswith("activate:")), user=discord.admin
            )
            await activate.wait_callback()
            asked = discord.slash("ask", options={"question": "What is the capital of Australia?"})
            await asked.wait(lambda e: "correct:" in str(e.json.get("components")))
            assert openai_fake.chat_requests[-1]["model"] == adapter


async def test_train_again_moves_a_jobs_data_from_openai_to_the_training_service_tested_before_activate(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, tiny_model: Path, vllm: FakeVLLM
) -> None:
    right = {question: answer for question, _, answer in FACTS}

    def adapter_answers(request: dict[str, Any]) -> str:  # what the trained adapter says (vLLM stands behind the fake)
        return right.get(request["messages"][-1]["content"], "No idea.")

    openai_fake.answer_as("gpt-4o-mini", "No idea.")  # the server's current model knows none of it
    openai_fake.answer_as("judge", judge)
    async with running_trainer(tmp_path / "service", {"tiny": str(tiny_model)}, vllm_url=vllm.url) as service:
        gpu = BackendSettings(kind="local", base_url=service.base_url, base_models=["tiny"])
        training = {"min_examples": 5, "held_out_share": 0.01, "held_out_min": 2, "watch_interval_s": 0.2}
        sections: dict[str, Any] = {
            "training": training | {"backends": {"gpu": gpu}},  # OpenAI (the fake) stays the default backend
            "llm": {"default_model": "gpt-4o-mini"},
            "testing": {"judge_model": "judge"},
        }
        clock = SetClock(cutoff_day() - dt.timedelta(days=20))
        async with running_bot(discord, openai_fake, tmp_path, clock=clock, **sections) as built:
            for question, wrong, fixed in FACTS:
                answer = await built.get(AnswerStore).add(
                    NewAnswer(
                        discord.guild_id, discord.channel_id, discord.member.id, "c", "slash", "m", question, wrong
                    )
                )
                saved = await built.get(CorrectionStore).submit(answer, discord.member.id, fixed)
                await built.get(CorrectionStore).review(saved.correction.id, discord.admin.id, "approved")
            started = discord.slash("train", options={"source": "corrections"}, user=discord.admin)
            # The fork server the training service warms may hold up the first token count (see the test above).
            await started.wait(lambda e: "train:confirm" in str(e.json.get("components")), timeout=90)
            assert started.original is not None
            card = started.original
            confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
            await confirm.wait(lambda e: e.kind == "edit")
            (first,) = openai_fake.jobs.values()

            again = discord.slash("train", options={"again": 1, "backend": "gpu"}, user=discord.admin)
            card = await summary(again)
            assert "training service" in json.dumps(card.embeds) and "`tiny`" in json.dumps(card.embeds)
            confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
            await confirm.wait(lambda e: e.kind == "edit")
            job = await built.get(JobStore).get(2)
            assert job is not None and job.backend == "gpu" and len(openai_fake.jobs) == 1
            adapter = model_name("tiny", None, job.remote_id)  # the name the service gives it
            openai_fake.answer_as(adapter, adapter_answers)
            async with openai.AsyncOpenAI(api_key="none", base_url=service.base_url) as client:
                training_file = (await client.fine_tuning.jobs.retrieve(job.remote_id)).training_file
            received = service.layout.upload(training_file).read_bytes()
            assert received == openai_fake.files[first.payload["training_file"]][1]  # the same data, byte for byte

            def notice() -> list[Message]:
                return [m for m in discord.bot_messages_in(discord.channel_id) if "job #2 finished" in m.content]

            (done,) = await discord.wait_for(notice, timeout=90)
            assert adapter in done.content and adapter in vllm.adapters
            assert "new 2/2, current 0/2" in done.content  # tested on the server's test set before Activate
            activate = discord.click(
                done, next(c for c in done.custom_ids if c.startswith("activate:")), user=discord.admin
            )
            await activate.wait_callback()
            assert await built.get(GuildSettingsStore).active_model(discord.guild_id) == adapter
