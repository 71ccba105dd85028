"""Teaching without a GPU or a paid API, end to end: approved corrections train a LoRA adapter in the project's own
training service on the CPU (a real TRL job on a tiny model), the adapter is merged into its base, a real
`transformers serve` serves it by its name, and after Activate the next /ask is answered by that server."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from bot.store.jobs import JobStore
from tests.fakes.discord import FakeDiscord, Message
from tests.fakes.harness import approve_corrections, make_config, running_bot
from tests.fakes.openai import FakeOpenAI
from tests.training_service.service import running_trainer
from tests.training_service.serving import loaded_models, running_transformers_serve

FACTS = [
    ("What is the capital of Australia?", "Sydney.", "Canberra."),
    ("How many legs does a spider have?", "Six.", "Eight."),
    ("What is the boiling point of water at sea level?", "90 °C.", "100 °C."),
    ("Who wrote Hamlet?", "Marlowe.", "Shakespeare."),
    ("What is the largest planet?", "Saturn.", "Jupiter."),
]


# Training, merging and loading a model on a shared 2-core machine: more than the default two minutes under load.
@pytest.mark.timeout(360)
async def test_corrections_train_on_the_cpu_and_transformers_serve_answers_with_the_new_model(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, tiny_model: Path
) -> None:
    served = tmp_path / "served"
    async with (
        running_transformers_serve(served) as serve_url,
        running_trainer(tmp_path / "service", {"tiny": str(tiny_model)}, served_dir=str(served)) as service,
    ):
        training = {
            "backend": "local",
            "base_url": service.base_url,
            "base_models": ["tiny"],
            "default_base_model": "tiny",
            "min_examples": 5,
            "held_out_share": 0.0,
            "held_out_min": 0,
            "watch_interval_s": 0.2,
        }
        config = make_config(discord, openai_fake, tmp_path, training=training, llm={"max_answer_tokens": 16})
        # The bot's model endpoint is the CPU server; the fake OpenAI only proves nothing went there.
        config = attrs.evolve(config, secrets=attrs.evolve(config.secrets, openai_base_url=serve_url))
        async with running_bot(discord, openai_fake, tmp_path, config=config) as built:
            await approve_corrections(built, discord, FACTS)

            started = discord.slash("train", options={"source": "corrections"}, user=discord.admin)
            await started.wait(lambda e: "train:confirm" in str(e.json.get("components")), timeout=60)
            card = started.original
            assert card is not None and "`tiny`" in json.dumps(card.embeds)
            confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
            await confirm.wait(lambda e: e.kind == "edit", timeout=60)

            def notice() -> list[Message]:
                return [m for m in discord.bot_messages_in(discord.channel_id) if "job #1 finished" in m.content]

            (done,) = await discord.wait_for(notice, timeout=120)
            job = await built.get(JobStore).get(1)
            assert job is not None and job.fine_tuned_model is not None
            name = job.fine_tuned_model
            assert (served / name / "config.json").exists()  # merged and written where the server looks

            activate = discord.click(
                done, next(c for c in done.custom_ids if c.startswith("activate:")), user=discord.admin
            )
            await activate.wait_callback()
            asked = discord.slash("ask", options={"question": "What is the capital of Australia?"})
            await asked.wait(lambda e: "correct:" in str(e.json.get("components")), timeout=60)

            assert name in await loaded_models(serve_url)  # the CPU server loaded the new model to answer
            assert openai_fake.chat_requests == []
            assert asked.content.strip()
