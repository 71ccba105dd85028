"""Training that outlives OpenAI, end to end: approved corrections train a LoRA adapter in the project's own training
service (a real TRL job on a tiny model) on a file that holds none of the held-out test questions, vLLM is told about
it, and Activate makes the next answer use it."""

from __future__ import annotations

import json
from pathlib import Path

import openai

from tests.fakes.discord import FakeDiscord, Message
from tests.fakes.harness import approve_corrections, running_bot
from tests.fakes.openai import FakeOpenAI
from tests.fakes.vllm import FakeVLLM
from tests.trainer.service import running_trainer

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
            stores = built.services
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
            source, asked = await stores.tester.questions(discord.guild_id)
            test_set = {q.question for q in asked}
            assert source == "corrections" and len(test_set) == 2
            job = await stores.jobs.get(1)
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
            job = await stores.jobs.get(1)
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
