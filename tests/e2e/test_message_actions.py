"""Right-click actions on messages (Apps): "Correct this answer" and "Ask about this message", through the fake
Discord, with their refusals (another member's private answer, a channel the caller cannot read)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

from PIL import Image

from bot.store.corrections import CorrectionStore
from tests.fakes.discord import VIEW_CHANNEL, Event, FakeDiscord, InteractionHandle
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI

CORRECT = "Correct this answer"
ASK_ABOUT = "Ask about this message"
SECRET = "my landlord is called Mr Grimsby"


def final(e: Event) -> bool:
    return "correct:" in str(e.json.get("components"))


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 10)).save(out, "PNG")
    return out.getvalue()


async def refusal(handle: InteractionHandle) -> str:
    event = await handle.wait_callback()
    assert event.type == 4, "refused with a message, not a form"
    assert handle.ephemeral
    text = json.dumps([e.json for e in handle.responses], ensure_ascii=False)
    assert "Grimsby" not in text  # a refusal never quotes what the caller could not see
    return text


async def test_correct_this_answer_opens_the_form_under_the_buttons_rule(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    eve = discord.make_user("eve")
    async with running_bot(discord, openai_fake, tmp_path) as built:
        commands = {c["name"]: c["type"] for c in discord.commands[discord.guild_id]}
        assert commands[CORRECT] == 3 and commands[ASK_ABOUT] == 3

        asked = discord.slash("ask", options={"question": "Is Pluto a planet?"})
        await asked.wait(final)
        assert asked.original is not None
        # Anyone who sees a public answer may correct it from its message, as with its button.
        opened = discord.message_command(CORRECT, asked.original, user=eve)
        await opened.wait_callback()
        assert opened.modal is not None and opened.modal["title"] == "Correct this answer"
        fields = {f["custom_id"]: f["value"] for f in opened.modal["fields"] if "value" in f}
        assert fields["question"] == "Is Pluto a planet?"
        saved = discord.submit_modal(opened.modal["custom_id"], {"corrected": "A dwarf planet."}, user=eve)
        await saved.wait_callback()
        assert "Saved your correction #1" in saved.content
        assert (await built.get(CorrectionStore).stats(discord.guild_id)).by_status == {"pending": 1}

        # Not an answer of the bot's.
        posted = discord.post_message("just chatting")
        not_an_answer = discord.message_command(CORRECT, discord.messages[int(posted["id"])], user=eve)
        assert "not one of the bot's answers" in await refusal(not_an_answer)

        # Another member's private answer: Discord shows it to its asker alone; a modified client is refused.
        openai_fake.reply(f"Noted: {SECRET}.")
        private = discord.slash("ask", options={"question": SECRET, "private": True})
        await private.wait(final)
        assert private.original is not None
        forged = discord.message_command(CORRECT, private.original, user=eve, unchecked=True)
        assert "private to the person who asked" in await refusal(forged)
        mine = discord.message_command(CORRECT, private.original)
        await mine.wait_callback()
        assert mine.modal is not None and mine.modal["title"] == "Correct (reviewers will see this answer)"

        # A channel the caller can no longer read (their client still showed the answer).
        discord.deny(discord.channel_id, VIEW_CHANNEL, user=eve)
        hidden = discord.message_command(CORRECT, asked.original, user=eve, unchecked=True)
        assert "cannot read this channel" in await refusal(hidden)


async def test_ask_about_a_message_quotes_it_and_gives_its_text_and_picture_to_the_model(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    eve = discord.make_user("eve")
    openai_fake.reply("No: the Eiffel Tower is in Paris.")
    async with running_bot(discord, openai_fake, tmp_path):
        picture = discord.attachment("tower.png", png(), "image/png")
        posted = discord.post_message("The Eiffel Tower is in @everyone Berlin.", attachments=[picture])
        message = discord.messages[int(posted["id"])]

        opened = discord.message_command(ASK_ABOUT, message, user=eve)
        await opened.wait_callback()
        assert opened.modal is not None and opened.modal["title"] == ASK_ABOUT
        answered = discord.submit_modal(opened.modal["custom_id"], {"question": "Is this right?"}, user=eve)
        await answered.wait(final)
        assert not answered.ephemeral
        shown = answered.content
        # Visibly quoted, pinging nobody, then the answer, with the usual Correct/👍/👎 buttons.
        assert shown.startswith(
            "> **Bob**: The Eiffel Tower is in @\u200beveryone Berlin. 🖼️×1\n**Eve** asks: Is this right?"
        )
        assert shown.endswith("No: the Eiffel Tower is in Paris.")
        assert answered.original is not None and any(c.startswith("vote:up.") for c in answered.original.custom_ids)

        sent = openai_fake.chat_requests[-1]["messages"][-1]["content"]
        text = sent[0]["text"]
        assert "A message by Bob:" in text and "The Eiffel Tower is in @everyone Berlin." in text
        assert text.endswith("Question about it: Is this right?")
        (part,) = openai_fake.image_parts()
        with Image.open(io.BytesIO(base64.b64decode(part["image_url"]["url"].split(",", 1)[1]))) as seen:
            assert seen.size == (32, 32)


async def test_ask_about_refuses_what_the_caller_cannot_read(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    eve = discord.make_user("eve")
    async with running_bot(discord, openai_fake, tmp_path):
        hidden_post = discord.post_message(SECRET, channel_id=discord.other_channel_id)
        secret = discord.messages[int(hidden_post["id"])]
        discord.deny(discord.other_channel_id, VIEW_CHANNEL, user=eve)

        stale = discord.message_command(ASK_ABOUT, secret, user=eve, unchecked=True)
        assert "cannot read this channel" in await refusal(stale)
        # A forged form naming a message of another channel reads nothing from it.
        forged = discord.submit_modal(f"ask-about:{secret.id}", {"question": "What does it say?"}, user=eve)
        assert "not in this channel" in await refusal(forged)
        assert openai_fake.chat_requests == [], "nothing reached the model"

        # A private answer is shown to its asker alone, and Discord keeps no copy the bot could read.
        private = discord.slash("ask", options={"question": "just for me", "private": True})
        await private.wait(final)
        assert private.original is not None
        own = discord.message_command(ASK_ABOUT, private.original)
        assert "only shown to you" in await refusal(own)
