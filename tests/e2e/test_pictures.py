"""Pictures in questions: sent to the model as image parts, refused before download when they cannot be, and kept
(by reference) in training data exported from a corrected answer."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

from PIL import Image

from tests.fakes.discord import Event, FakeDiscord, InteractionHandle
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI


def final(e: Event) -> bool:
    return "correct:" in str(e.json.get("components"))


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def refusal(handle: InteractionHandle) -> str:
    """The ephemeral message a refused /ask shows (at once, or after "thinking…")."""
    event = await handle.wait(lambda e: (e.kind == "callback" and e.type == 4) or e.kind == "followup")
    data = event.json.get("data", event.json) if event.kind == "callback" else event.json
    assert data.get("flags", 0) & 64
    return str(data.get("content", ""))


async def test_a_picture_reaches_the_model_downscaled_and_its_correction_exports_it(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.reply("A red square.")
    async with running_bot(discord, openai_fake, tmp_path):
        picture = discord.attachment("photo.png", png(2000, 1000), "image/png")
        asked = discord.slash("ask", options={"question": "What is this?", "image": picture})
        await asked.wait(final)
        assert asked.content == "A red square."
        (part,) = openai_fake.image_parts()
        url = part["image_url"]["url"]
        assert url.startswith("data:image/jpeg;base64,")
        with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as sent:
            assert sent.size == (1024, 512)
        assert openai_fake.chat_requests[-1]["messages"][-1]["content"][0] == {"type": "text", "text": "What is this?"}

        # A picture attached to a mention is sent too.
        message_picture = discord.attachment("cat.webp", png(64, 64), "image/png")
        discord.post_message("and this one?", mentions_bot=True, attachments=[message_picture])
        await discord.wait_for(lambda: len(openai_fake.chat_requests) == 2 and len(openai_fake.image_parts()) == 1)

        assert asked.original is not None
        opened = discord.click(asked.original, asked.original.custom_ids[0])
        await opened.wait_callback()
        assert opened.modal is not None
        saved = discord.submit_modal(
            opened.modal["custom_id"], {"corrected": "A red rectangle, twice as wide as tall."}
        )
        await saved.wait(lambda e: "Saved your correction" in json.dumps(e.json))
        review = discord.slash("corrections", subcommand="review", user=discord.admin)
        await review.wait_callback()
        assert review.original is not None
        await discord.click(review.original, "review:approve.1", user=discord.admin).wait_callback()
        exported = discord.slash("corrections", subcommand="export", options={"format": "sft"}, user=discord.admin)
        upload = await exported.wait(lambda e: bool(e.files))
        (line,) = [json.loads(x) for x in upload.files[0].data.decode().splitlines()]
        assert line["messages"][1] == {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": picture["url"]}},
            ],
        }


async def test_pictures_that_cannot_be_used_are_refused_before_download_and_never_reach_the_model(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    llm = {"max_image_mb": 0.05, "max_image_pixels": 250_000}
    async with running_bot(discord, openai_fake, tmp_path, llm=llm):
        huge = discord.attachment("huge.png", b"\x89PNG" + b"\0" * 60_000, "image/png")
        refused = discord.slash("ask", options={"question": "What is this?", "image": huge})
        assert "may be at most" in await refusal(refused)
        text = discord.attachment("notes.txt", b"just text", "text/plain")
        refused = discord.slash("ask", options={"question": "What is this?", "image": text})
        assert "is not a picture" in await refusal(refused)
        assert discord.file_downloads == []

        fake_png = discord.attachment("fake.png", b"this is not a PNG at all", "image/png")
        refused = discord.slash("ask", options={"question": "What is this?", "image": fake_png})
        assert "not a picture I can read" in await refusal(refused)
        too_many_pixels = discord.attachment("big.png", png(1000, 1000), "image/png")
        refused = discord.slash("ask", options={"question": "What is this?", "image": too_many_pixels})
        assert "1000×1000 pixels" in await refusal(refused)
        assert openai_fake.chat_requests == []


async def test_a_model_that_takes_no_pictures_says_so_before_anything_is_downloaded(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path, llm={"vision_models": ["gpt-4o"]}):
        picture = discord.attachment("photo.png", png(10, 10), "image/png")
        refused = discord.slash("ask", options={"question": "What is this?", "image": picture})
        assert "does not take pictures" in await refusal(refused)
        assert discord.file_downloads == [] and openai_fake.chat_requests == []
