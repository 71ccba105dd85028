"""Issue 14 through the fake Discord and the fake OpenAI: corrections take effect at once, the held-out test set stays
out of training data, /model test shows a scorecard and each question, and a finished job is tested before its
notice, whose Activate asks again when the new model scored worse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.app import BuiltBot
from bot.config import Settings
from bot.evaluation.model_test import ModelTester
from bot.finetuning.held_out import split_approved
from bot.finetuning.watcher import JobWatcher
from bot.store.answers import AnswerStore, NewAnswer
from bot.store.corrections import CorrectionStore
from bot.store.guilds import GuildSettingsStore
from bot.store.model_tests import ModelTestStore
from tests.e2e.test_training import reply, sft_lines, summary
from tests.fakes.discord import FakeDiscord, final, said
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI

FACTS = {f"What is the code name of release {i}?": f"Release {i} is called Falcon-{i * 7}." for i in range(1, 25)}


async def approve(built: BuiltBot, discord: FakeDiscord, question: str, fixed: str) -> int:
    answer = await built.get(AnswerStore).add(
        NewAnswer(
            guild_id=discord.guild_id,
            channel_id=discord.channel_id,
            user_id=discord.member.id,
            conversation_id="c",
            source="slash",
            model="gpt-4o-mini",
            question=question,
            answer="I am not sure.",
        )
    )
    saved = await built.get(CorrectionStore).submit(answer, discord.member.id, fixed)
    return (await built.get(CorrectionStore).review(saved.correction.id, discord.admin.id, "approved")).id


def knows(request: dict[str, Any]) -> str:
    """A good model: it knows every release's code name."""
    question = request["messages"][-1]["content"]
    return FACTS.get(question, "No idea.")


def judge(request: dict[str, Any]) -> str:
    prompt = request["messages"][-1]["content"]
    reference = prompt.split("Reference answer:\n")[1].split("\n\n")[0]
    good = reference in prompt.split("Answer to grade:\n")[1]
    return json.dumps({"score": 9 if good else 1, "verdict": "correct" if good else "wrong", "reason": "compared"})


async def library_correction_is_found(
    built: BuiltBot, discord: FakeDiscord, openai_fake: FakeOpenAI, question: str, unrelated: str
) -> None:
    """Two corrections are approved (bikes, the library's Sunday hours); `question`, about the library, gets its
    correction in the model's prompt and named in the reply, and not the other; `unrelated` gets none."""
    other = await approve(built, discord, "Where do we park bikes?", "Bikes go in the yard behind building B.")
    fixed = await approve(built, discord, "When does the library open on Sundays?", "At 11:00 on Sundays.")
    reply = said(await discord.slash("ask", options={"question": question}).wait(final))
    system = openai_fake.chat_requests[-1]["messages"][0]["content"]
    assert "At 11:00 on Sundays." in system and "yard behind building B" not in system
    assert f"used corrections #{fixed}" in reply and f"#{other}" not in reply
    assert "used corrections" not in said(await discord.slash("ask", options={"question": unrelated}).wait(final))
    assert "11:00" not in openai_fake.chat_requests[-1]["messages"][0]["content"]


async def test_an_approved_correction_is_given_to_the_model_at_once_and_the_reply_names_it(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path, llm={"edit_interval_s": 0.05}) as built:
        await library_correction_is_found(
            built, discord, openai_fake, "what time does the library open on sunday?", "Tell me a joke about penguins"
        )

        off = discord.slash("model", subcommand="corrections", options={"state": "off"}, user=discord.admin)
        assert "no longer given" in said(await off.wait_callback())
        again = discord.slash("ask", options={"question": "when does the library open on sundays?"})
        assert "used corrections" not in said(await again.wait(final))
        assert "11:00" not in openai_fake.chat_requests[-1]["messages"][0]["content"]


async def test_model_test_scores_two_models_on_held_out_corrections_that_training_files_leave_out(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.answer_as("good-model", knows)
    openai_fake.answer_as("bad-model", "No idea.")
    openai_fake.answer_as("judge", judge)
    sections: dict[str, Any] = {
        "llm": {"models": ["gpt-4o-mini", "good-model", "bad-model"]},
        "testing": {"judge_model": "judge", "progress_interval_s": 0.01},
    }
    async with running_bot(discord, openai_fake, tmp_path, **sections) as built:
        for question, fixed in FACTS.items():
            await approve(built, discord, question, fixed)
        approved = await built.get(CorrectionStore).with_status(discord.guild_id, "approved")
        held_out = split_approved(approved, built.get(Settings).training).held_out
        assert len(held_out) >= 5

        exported = discord.slash("corrections", subcommand="export", options={"format": "sft"}, user=discord.admin)
        event = await exported.wait(lambda e: bool(e.files))
        data = event.files[0].data.decode()
        assert f"{len(held_out)} held out for testing" in said(event)
        assert all(c.question not in data for c in held_out)
        assert sum(1 for c in approved if c.question in data) == len(approved) - len(held_out)
        started = discord.slash("train", options={"source": "corrections"}, user=discord.admin)
        card = await summary(started)
        assert f"({len(held_out)} held out for testing)" in json.dumps(card.embeds)

        tested = discord.slash(
            "model", subcommand="test", options={"model": "good-model", "against": "bad-model"}, user=discord.admin
        )
        done = await tested.wait(lambda e: bool(e.files))
        n = len(held_out)
        assert f"new {n}/{n}, current 0/{n}" in said(done) and f"{n} wins, 0 ties, 0 losses" in said(done)
        assert any("graded" in said(e) for e in tested.responses if e.kind == "edit")  # progress while it ran
        assert done.files[0].data.startswith(b"\x89PNG")
        assert tested.original is not None
        pages = discord.click(tested.original, tested.original.custom_ids[0], user=discord.admin)
        page = said(await pages.wait_callback())
        first = held_out[0]
        assert first.question in page and first.corrected_answer in page and "No idea." in page
        assert pages.original is not None
        later = discord.click(pages.original, pages.original.custom_ids[1], user=discord.admin)  # Next ▶
        assert held_out[1].question in said(await later.wait_callback())


async def test_a_finished_job_is_tested_before_its_notice_and_a_worse_model_needs_a_second_click(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.answer_as("gpt-4o-mini", knows)  # the server's current model
    openai_fake.answer_as("judge", judge)
    sections: dict[str, Any] = {"llm": {"default_model": "gpt-4o-mini"}, "testing": {"judge_model": "judge"}}
    async with running_bot(discord, openai_fake, tmp_path, **sections) as built:
        for question, fixed in FACTS.items():
            await approve(built, discord, question, fixed)
        data = discord.attachment("faq.jsonl", sft_lines(10), "application/jsonl")
        started = discord.slash("train", options={"data": data, "suffix": "worse"}, user=discord.admin)
        card = await summary(started)
        confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
        await confirm.wait(lambda e: e.kind == "edit")
        (job_id,) = openai_fake.jobs
        model = openai_fake.advance(job_id, "succeeded")["fine_tuned_model"]
        openai_fake.answer_as(model, "No idea.")
        await built.get(JobWatcher).run_once()
        notices = await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(discord.channel_id) if "finished" in m.content]
        )
        notice = notices[0]
        n = len(split_approved(await built.get(CorrectionStore).with_status(discord.guild_id, "approved"),
                               built.get(Settings).training).held_out)  # fmt: skip
        assert f"new 0/{n}, current {n}/{n}" in notice.content and "scored worse" in notice.content
        assert any(r["model"] == model for r in openai_fake.chat_requests)
        await built.get(JobWatcher).run_once()
        assert len([m for m in discord.bot_messages_in(discord.channel_id) if "finished" in m.content]) == 1

        activate = discord.click(notice, notice.custom_ids[0], user=discord.admin)
        asked = await activate.wait_callback()
        assert "Activate it anyway?" in said(asked) and activate.ephemeral
        assert await built.get(GuildSettingsStore).active_model(discord.guild_id) is None  # nothing switched yet
        assert activate.original is not None
        anyway = discord.click(activate.original, activate.original.custom_ids[0], user=discord.admin)
        assert f"now uses `{model}`" in said(await anyway.wait_callback())
        assert await built.get(GuildSettingsStore).active_model(discord.guild_id) == model


async def test_an_uploaded_test_set_replaces_the_held_out_corrections_until_it_is_removed(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.answer_as("good-model", lambda r: f"A{r['messages'][-1]['content'].split()[-1].rstrip('?')}.")
    openai_fake.answer_as("bad-model", "No idea.")
    openai_fake.answer_as("judge", judge)
    sections: dict[str, Any] = {
        "llm": {"models": ["gpt-4o-mini", "good-model", "bad-model"]},
        "testing": {"judge_model": "judge"},
    }
    async with running_bot(discord, openai_fake, tmp_path, **sections) as built:
        broken = discord.attachment("t.jsonl", sft_lines(2) + b"{broken\n", "application/jsonl")
        refused = discord.slash("model", subcommand="testset", options={"data": broken}, user=discord.admin)
        assert "line 3: not valid JSON" in await reply(refused)
        assert await built.get(ModelTestStore).uploaded_questions(discord.guild_id) == []  # nothing changed
        member = discord.slash("model", subcommand="testset", options={"remove": True}, user=discord.member)
        assert "Only admins" in await reply(member)

        data = discord.attachment("t.jsonl", sft_lines(3), "application/jsonl")
        uploaded = discord.slash("model", subcommand="testset", options={"data": data}, user=discord.admin)
        assert "now has 3 questions" in await reply(uploaded) and uploaded.ephemeral
        tested = discord.slash(
            "model", subcommand="test", options={"model": "good-model", "against": "bad-model"}, user=discord.admin
        )
        assert "new 3/3, current 0/3" in said(await tested.wait(lambda e: bool(e.files)))

        removed = discord.slash("model", subcommand="testset", options={"remove": True}, user=discord.admin)
        assert "Removed the uploaded test set (3 questions)" in await reply(removed) and removed.ephemeral
        again = discord.slash(
            "model", subcommand="test", options={"model": "good-model", "against": "bad-model"}, user=discord.admin
        )
        assert "no test questions yet" in await reply(again)  # no corrections approved: nothing left to ask


def reader(request: dict[str, Any]) -> str:
    """A model that knows nothing itself but uses a community-verified answer when it is given one."""
    system = request["messages"][0]["content"]
    return system.split("\nA: ")[1].split("\n")[0] if "\nA: " in system else "No idea."


async def test_model_test_with_corrections_shows_what_they_already_fix_before_any_training(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.answer_as("reader", reader)
    openai_fake.answer_as("judge", judge)
    sections: dict[str, Any] = {"llm": {"models": ["gpt-4o-mini", "reader"]}, "testing": {"judge_model": "judge"}}
    async with running_bot(discord, openai_fake, tmp_path, **sections) as built:
        for i in range(1, 25):  # each fact twice, asked in other words: a test question's own correction is never
            fact = f"Release {i} is called Falcon-{i * 7}."  # given, but its twin is
            await approve(built, discord, f"What is the code name of release {i}?", fact)
            await approve(built, discord, f"Which code name does release {i} have?", fact)
        approved = await built.get(CorrectionStore).with_status(discord.guild_id, "approved")
        n = min(len(split_approved(approved, built.get(Settings).training).held_out), 100)
        for on, expected in ((False, f"new 0/{n}, current 0/{n}"), (True, f"new {n}/{n}, current 0/{n}")):
            options = {"model": "reader", "against": "gpt-4o-mini", "with_corrections": on}
            tested = discord.slash("model", subcommand="test", options=options, user=discord.admin)
            assert expected in said(await tested.wait(lambda e: bool(e.files)))


async def test_model_test_prompts_never_hold_a_private_answers_correction(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.answer_as("reader", reader)
    openai_fake.answer_as("judge", judge)
    sections: dict[str, Any] = {"llm": {"models": ["gpt-4o-mini", "reader"]}, "testing": {"judge_model": "judge"}}
    async with running_bot(discord, openai_fake, tmp_path, **sections) as built:
        for i in range(1, 25):  # each fact twice: publicly, and in a private answer's correction
            await approve(built, discord, f"What is the code name of release {i}?", f"Release {i} is Falcon-{i * 7}.")
            private = await built.get(AnswerStore).add(
                NewAnswer(
                    guild_id=discord.guild_id,
                    channel_id=discord.channel_id,
                    user_id=discord.member.id,
                    conversation_id="p",
                    source="slash",
                    model="gpt-4o-mini",
                    question=f"Which code name does release {i} have?",
                    answer="I am not sure.",
                    private=True,
                )
            )
            saved = await built.get(CorrectionStore).submit(private, discord.member.id, f"Kestrel-{i}, privately.")
            await built.get(CorrectionStore).review(saved.correction.id, discord.admin.id, "approved")

        options = {"model": "reader", "against": "gpt-4o-mini", "with_corrections": True}
        tested = discord.slash("model", subcommand="test", options=options, user=discord.admin)
        await tested.wait(lambda e: bool(e.files))
        prompts = [json.dumps(r["messages"]) for r in openai_fake.chat_requests if r["model"] != "judge"]
        # The public corrections were given as references; a private one never was, to either model.
        assert any("Falcon-" in p for p in prompts if "Which code name" in p)
        assert not any("Kestrel-" in p for p in prompts)


def taught(data: bytes) -> list[str]:
    """The questions a training file teaches: each line's last user message (supervised or preference pairs)."""
    questions: list[str] = []
    for raw in data.splitlines():
        line = json.loads(raw)
        messages = line["messages"] if "messages" in line else line["input"]["messages"]
        questions.append(next(m["content"] for m in reversed(messages) if m["role"] == "user"))
    return questions


async def test_no_question_model_test_asks_is_in_the_file_uploaded_to_train_from_corrections(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path) as built:
        for question, fixed in FACTS.items():
            await approve(built, discord, question, fixed)
        source, asked = await built.get(ModelTester).questions(discord.guild_id)
        test_set = {q.question for q in asked}
        assert source == "corrections" and len(test_set) >= 5
        # Every way a job is started from corrections: /train with either method, or with none (what the data holds).
        for options in ({"method": "sft"}, {"method": "dpo"}, {}):
            started = discord.slash("train", options={"source": "corrections", **options}, user=discord.admin)
            card = await summary(started)
            confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
            await confirm.wait(lambda e: e.kind == "edit")
            assert "Started training job" in card.content
        jobs = [job.request for job in openai_fake.jobs.values()]
        assert [j["method"]["type"] for j in jobs] == ["supervised", "dpo", "supervised"]
        for job in jobs:
            questions = taught(openai_fake.files[job["training_file"]][1])  # what OpenAI received
            assert not test_set & set(questions)
            assert sorted(questions) == sorted(set(FACTS) - test_set)  # and every other approved correction
