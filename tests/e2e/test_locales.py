"""The bot speaks the member's language, through the fake Discord: a Russian client sees Russian buttons, forms,
refusals and command descriptions, an English one English; what the bot posts on its own follows the server's
preferred locale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fakes.discord import Event, FakeDiscord, InteractionHandle, Message
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI


def final(e: Event) -> bool:
    return "correct:" in str(e.json.get("components"))


async def answered(discord: FakeDiscord, handle: InteractionHandle) -> Message:
    await handle.wait(final)
    assert handle.original is not None
    return handle.original


async def reply_text(handle: InteractionHandle) -> str:
    event = await handle.wait(lambda e: e.kind in ("callback", "followup") and bool(e.json.get("data", e.json)))
    data = event.json.get("data", event.json) if event.kind == "callback" else event.json
    return str(data.get("content", ""))


def labels(message: Message) -> list[str]:
    return [c.get("label", "") for row in message.components for c in row["components"]]


async def test_a_russian_client_sees_russian_buttons_forms_and_refusals_and_an_english_one_english(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    ivan = discord.make_user("ivan")
    ivan.locale = "ru"
    alice = discord.make_user("alice")  # en-US, like every fake user
    async with running_bot(discord, openai_fake, tmp_path):
        russian = await answered(discord, discord.slash("ask", options={"question": "Сколько будет 2+2?"}, user=ivan))
        assert labels(russian)[0] == "Исправить"
        english = await answered(discord, discord.slash("ask", options={"question": "What is 2+2?"}, user=alice))
        assert labels(english)[0] == "Correct"

        # The form follows whoever opens it, not whoever asked.
        form = discord.click(russian, next(c for c in russian.custom_ids if c.startswith("correct:")), user=ivan)
        await form.wait_callback()
        assert form.modal is not None and form.modal["title"] == "Исправить этот ответ"
        assert [f["label"] for f in form.modal["fields"]] == [
            "Вопрос",
            "Ответ бота",
            "Правильный ответ",
            "Заметка для проверяющих (необязательно)",
        ]

        vote = discord.click(english, next(c for c in english.custom_ids if c.startswith("vote:up.")), user=ivan)
        assert (await reply_text(vote)).startswith("Спасибо, ваш 👍 учтён")

        # Refusals, ephemeral, in the caller's language.
        refused = discord.slash("corrections", subcommand="review", user=ivan)
        assert (await reply_text(refused)).startswith("Только админы могут проверять исправления")
        assert refused.ephemeral
        refused_en = discord.slash("corrections", subcommand="review", user=alice)
        assert (await reply_text(refused_en)).startswith("Only admins can review corrections")
        empty = discord.slash("ask", options={}, user=ivan)
        assert await reply_text(empty) == "Спросите что-нибудь: введите `question` или приложите `audio`."


def described(commands: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Every slash command, subcommand and option, by path."""
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(path: str, item: dict[str, Any]) -> None:
        found.append((path, item))
        for option in item.get("options") or []:
            walk(f"{path} {option['name']}", option)

    for command in commands:
        if command["type"] == 1:
            walk(command["name"], command)
    return found


async def test_a_commands_own_rules_refuse_outside_a_server_in_the_callers_language(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    ivan = discord.make_user("ivan")
    ivan.locale = "ru"
    # Global commands, as a DM is offered them: /usage is, and its admin subcommands refuse there by their hook.
    async with running_bot(discord, openai_fake, tmp_path, discord={"command_guilds": []}):
        in_dm = discord.slash("usage", subcommand="server", user=ivan, guild_id=None)
        assert await reply_text(in_dm) == (
            "Это работает только на сервере (смотреть расход моделей сервера или менять его бюджет)."
        )
        assert in_dm.ephemeral
        english = discord.slash("usage", subcommand="server", user=discord.admin, guild_id=None)
        assert await reply_text(english) == "see this server's model usage or change its budget only works in a server."


async def test_commands_register_with_russian_descriptions_and_english_names(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path):
        commands = discord.commands.get(None, []) + discord.commands.get(discord.guild_id, [])
    by_name = {c["name"]: c for c in commands}
    assert by_name["ask"]["description_localizations"]["ru"] == "Задать вопрос боту"
    question = next(o for o in by_name["ask"]["options"] if o["name"] == "question")
    assert question["description_localizations"]["ru"] == "Что вы хотите узнать"
    everything = described(commands)
    assert len(everything) > 60
    for path, item in everything:
        assert item["description_localizations"].get("ru"), f"{path} has no Russian description"
        assert "ru" not in (item.get("name_localizations") or {}), f"{path} has a Russian name"
    scope = next(o for o in by_name["persona"]["options"][0]["options"] if o["name"] == "scope")
    assert [c["name_localizations"]["ru"] for c in scope["choices"]] == ["этот канал", "весь сервер"]
    # Message commands are labels in the Apps menu: those are translated.
    assert by_name["Correct this answer"]["name_localizations"]["ru"] == "Исправить этот ответ"
    assert by_name["Ask about this message"]["name_localizations"]["ru"] == "Спросить об этом сообщении"


async def test_a_mention_in_a_russian_server_is_answered_with_russian_buttons(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    discord.guild_locales[discord.guild_id] = "ru"
    async with running_bot(discord, openai_fake, tmp_path, llm={"edit_interval_s": 0.05}):
        discord.post_message("what is 2+2?", mentions_bot=True)
        replies = await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(discord.channel_id) if m.custom_ids]
        )
        assert labels(replies[0])[0] == "Исправить"
        # An interaction still follows its member's client, not the server.
        english = await answered(discord, discord.slash("ask", options={"question": "And 3+3?"}))
        assert labels(english)[0] == "Correct"


async def test_a_budget_notice_follows_the_server_and_each_refusal_its_member(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    discord.guild_locales[discord.guild_id] = "ru"
    ivan = discord.make_user("ivan")
    ivan.locale = "ru"
    openai_fake.default_reply = "ok"

    async def refused(user: Any) -> str:
        handle = discord.slash("ask", options={"question": "How much?", "new_conversation": True}, user=user)
        event = await handle.wait(lambda e: e.kind != "callback" and bool(e.json.get("content")))
        return str(event.json["content"])

    async with running_bot(discord, openai_fake, tmp_path):
        await answered(discord, discord.slash("ask", options={"question": "How much?", "new_conversation": True}))
        one = sum(u["prompt_tokens"] + u["completion_tokens"] for u in openai_fake.usage_reported)
        budget = discord.slash(
            "usage", subcommand="budget", options={"monthly_tokens": int(1.5 * one)}, user=discord.admin
        )
        assert "Monthly budget" in await reply_text(budget)  # the admin's client is English
        await answered(discord, discord.slash("ask", options={"question": "And now?", "new_conversation": True}))
        # Told to the server, in the server's language, whoever's question crossed the budget.
        notice = await discord.wait_for(
            lambda: [m.content for m in discord.bot_messages_in(discord.channel_id) if m.content.startswith("⛔")]
        )
        assert notice[0].startswith("⛔ Сервер израсходовал весь бюджет на модели за этот месяц")
        assert (await refused(ivan)).startswith("Сервер израсходовал бюджет на модели")
        assert (await refused(discord.member)).startswith("This server has used its model budget")
