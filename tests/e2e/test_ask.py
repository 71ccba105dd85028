"""/ask through the fake Discord and the fake OpenAI, as a user sees it."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from bot.llm.answering import Answerer
from tests.fakes.discord import FakeDiscord, Request
from tests.fakes.harness import running_bot
from tests.fakes.openai import Deltas, FakeOpenAI


async def test_ask_streams_the_answer_by_editing_and_ends_with_the_models_text(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    answer = "Paris is the capital of France. " * 6
    openai_fake.reply(answer.strip())
    openai_fake.stream_chunk_chars = 10
    openai_fake.chunk_delay_s = 0.02
    async with running_bot(discord, openai_fake, tmp_path, llm={"edit_interval_s": 0.1}):
        handle = discord.slash("ask", options={"question": "What is the capital of France?"})
        callback = await handle.wait_callback()
        assert callback.type == 5  # deferred first
        await handle.wait(lambda e: e.kind == "edit" and "Correct" in str(e.json.get("components")))
        edits = [e for e in handle.responses if e.kind == "edit"]
        assert len(edits) >= 2
        assert handle.content == answer.strip()
        assert any(c.startswith("correct:") for c in handle.original.custom_ids)  # type: ignore[union-attr]


async def test_a_long_answer_continues_in_follow_ups_without_breaking_code_blocks(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    code = "\n".join(f"print('line {i}')" for i in range(180))
    answer = "Here is the script:\n\n```python\n" + code + "\n```\nRun it with python."
    openai_fake.reply(answer)
    openai_fake.stream_chunk_chars = 400
    async with running_bot(discord, openai_fake, tmp_path, llm={"edit_interval_s": 0.05}):
        handle = discord.slash("ask", options={"question": "Write a long script"})
        await handle.wait_until(lambda: bool(handle.followups) and "Run it with python." in handle.text)
        await handle.wait(lambda e: "correct:" in str(e.json.get("components")))
        messages = handle.messages
        assert len(messages) >= 2
        for message in messages:
            assert len(message.content) <= 2000
            assert message.content.count("```") % 2 == 0, "every message keeps its code fences balanced"
        assert messages[1].content.startswith("```python")
        # Every line of the script is shown exactly once.
        shown = "\n".join(m.content for m in messages)
        assert all(shown.count(f"print('line {i}')") == 1 for i in range(180))
        # The Correct button sits on the last message of the answer.
        assert any(c.startswith("correct:") for c in messages[-1].custom_ids)


async def test_memory_carries_earlier_turns_and_new_conversation_forgets_them(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path):
        first = discord.slash("ask", options={"question": "My name is Zed."})
        await first.wait(lambda e: "correct:" in str(e.json.get("components")))
        second = discord.slash("ask", options={"question": "What is my name?"})
        await second.wait(lambda e: "correct:" in str(e.json.get("components")))
        sent = [m["content"] for m in openai_fake.chat_requests[1]["messages"]]
        assert "My name is Zed." in sent
        assert "Answer to: My name is Zed." in sent
        # Another user in the same channel does not see Zed's conversation.
        other = discord.slash("ask", options={"question": "Who am I?"}, user=discord.admin)
        await other.wait(lambda e: "correct:" in str(e.json.get("components")))
        assert "My name is Zed." not in [m["content"] for m in openai_fake.chat_requests[2]["messages"]]
        fresh = discord.slash("ask", options={"question": "Start over", "new_conversation": True})
        await fresh.wait(lambda e: "correct:" in str(e.json.get("components")))
        roles = [m["role"] for m in openai_fake.chat_requests[3]["messages"]]
        assert roles == ["system", "user"]


async def test_memory_survives_a_restart(discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    async with running_bot(discord, openai_fake, tmp_path):
        first = discord.slash("ask", options={"question": "Remember the number 42."})
        await first.wait(lambda e: "correct:" in str(e.json.get("components")))
    async with running_bot(discord, openai_fake, tmp_path):
        second = discord.slash("ask", options={"question": "Which number?"})
        await second.wait(lambda e: "correct:" in str(e.json.get("components")))
        assert "Remember the number 42." in [m["content"] for m in openai_fake.chat_requests[1]["messages"]]


async def test_mentions_and_dms_are_answered_but_other_chatter_is_not(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path, llm={"edit_interval_s": 0.05}):
        discord.post_message("just chatting with friends")  # no mention: ignored
        discord.post_message("what is 2+2?", mentions_bot=True)
        replies = await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(discord.channel_id) if m.custom_ids]
        )
        assert replies[0].content == "Answer to: what is 2+2?"
        assert replies[0].reply_to is not None
        dm = discord.post_message("hello in private", guild_id=None)
        dm_channel = int(dm["channel_id"])
        dm_replies = await discord.wait_for(lambda: [m for m in discord.bot_messages_in(dm_channel) if m.custom_ids])
        assert dm_replies[0].content == "Answer to: hello in private"
        # Only the two addressed messages reached the model.
        assert [r["messages"][-1]["content"] for r in openai_fake.chat_requests] == [
            "what is 2+2?",
            "hello in private",
        ]


async def test_chat_channel_answers_every_message(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(
        discord,
        openai_fake,
        tmp_path,
        discord={"command_guilds": [discord.guild_id], "chat_channels": [discord.chat_channel_id]},
    ):
        discord.post_message("no mention needed here", channel_id=discord.chat_channel_id)
        replies = await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(discord.chat_channel_id) if m.custom_ids]
        )
        assert replies[0].content == "Answer to: no mention needed here"


async def test_rate_limit_refuses_politely_and_privately(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path, limits={"model_calls": 2, "window_s": 600.0}):
        for i in range(2):
            ok = discord.slash("ask", options={"question": f"question {i}"})
            await ok.wait(lambda e: "correct:" in str(e.json.get("components")))
        refused = discord.slash("ask", options={"question": "one too many"})
        # Refused at once, before the bot even acknowledges with "thinking…".
        answer = await refused.wait_callback()
        assert answer.type == 4 and "too fast" in answer.json["data"]["content"]
        assert refused.ephemeral
        assert len(openai_fake.chat_requests) == 2
        # Someone else is not limited by it.
        other = discord.slash("ask", options={"question": "my turn"}, user=discord.admin)
        await other.wait(lambda e: "correct:" in str(e.json.get("components")))


async def test_provider_rate_limit_is_retried_and_the_answer_arrives(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.fail_next(429, times=1, path_prefix="/chat", retry_after=0.01)
    async with running_bot(discord, openai_fake, tmp_path):
        handle = discord.slash("ask", options={"question": "still there?"})
        await handle.wait(lambda e: "correct:" in str(e.json.get("components")))
        assert handle.content == "Answer to: still there?"


async def test_persistent_provider_errors_give_a_friendly_message_and_the_bot_keeps_serving(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.fail_next(500, times=3, path_prefix="/chat")  # the first call and both retries
    async with running_bot(discord, openai_fake, tmp_path):
        failed = discord.slash("ask", options={"question": "hello?"})
        followup = await failed.wait(lambda e: e.kind == "followup")
        assert "model provider had an error" in followup.json["content"]
        assert "Traceback" not in followup.json["content"]
        assert followup.json["flags"] & 64
        handle = discord.slash("ask", options={"question": "and now?"})
        await handle.wait(lambda e: "correct:" in str(e.json.get("components")))
        assert handle.content == "Answer to: and now?"


async def test_gateway_reconnect_during_a_streamed_answer_does_not_lose_it(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    answer = " ".join(f"word{i}" for i in range(60))
    openai_fake.reply(answer)
    openai_fake.stream_chunk_chars = 12
    openai_fake.chunk_delay_s = 0.02
    async with running_bot(discord, openai_fake, tmp_path, llm={"edit_interval_s": 0.05}):
        handle = discord.slash("ask", options={"question": "Count for me"})
        await handle.wait(lambda e: e.kind == "edit")  # streaming has begun
        await discord.reconnect()
        # A question sent while the bot reconnects is replayed to it on RESUME.
        queued = discord.slash("ask", options={"question": "queued during reconnect"})
        await handle.wait(lambda e: "correct:" in str(e.json.get("components")))
        assert handle.content == answer
        await queued.wait(lambda e: "correct:" in str(e.json.get("components")))
        assert discord.resumes == 1
        assert discord.identifies == 1


async def test_an_answer_that_opens_with_blank_lines_is_shown_from_its_first_words(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    # Models often open with blank lines; Discord refuses a message of blanks alone (50006), so the first edit
    # (of the deferred response, or the first message in a chat channel) must wait for text.
    openai_fake.reply(*["\n\n\n\nParis is the capital of France."] * 2)
    openai_fake.stream_chunk_chars = 2
    openai_fake.chunk_delay_s = 0.05
    async with running_bot(
        discord,
        openai_fake,
        tmp_path,
        llm={"edit_interval_s": 0.01},
        discord={"command_guilds": [discord.guild_id], "chat_channels": [discord.chat_channel_id]},
    ):
        handle = discord.slash("ask", options={"question": "What is the capital of France?"})
        await handle.wait(lambda e: "correct:" in str(e.json.get("components")))
        assert handle.content.strip() == "Paris is the capital of France."
        assert all(str(e.json.get("content", "")).strip() for e in handle.responses if e.kind == "edit")
        discord.post_message("And of France?", channel_id=discord.chat_channel_id)
        (answer,) = await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(discord.chat_channel_id) if m.custom_ids]
        )
        assert answer.content.strip() == "Paris is the capital of France."


async def test_a_question_waiting_for_its_acknowledgement_goes_before_answers_in_progress(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    # Discord gives 3 s to acknowledge and 15 min to answer: in a burst, the acknowledgements go out first.
    pause = asyncio.Event()
    openai_fake.reply(Deltas([{"content": "Paris"}, pause, {"content": " is the capital of France."}]))
    async with running_bot(discord, openai_fake, tmp_path, llm={"edit_interval_s": 0.01}) as built:
        first = discord.slash("ask", options={"question": "What is the capital of France?"})
        await first.wait(lambda e: e.kind == "edit" and "Paris" in str(e.json.get("content")))
        arrived, release = asyncio.Event(), asyncio.Event()

        async def slow_acknowledgement(request: Request) -> None:  # Discord is slow to take the second one's
            if request.path.endswith("/callback") and f"/{second.id}/" in request.path:
                arrived.set()
                await release.wait()

        discord.rest_gate = slow_acknowledgement
        second = discord.slash("ask", options={"question": "And of Italy?"})
        await asyncio.wait_for(arrived.wait(), 10)
        pause.set()  # the first answer's model goes on while the second question is being acknowledged
        await asyncio.wait_for(built.get(Answerer).acknowledgements.held.wait(), 10)
        assert "is the capital" not in first.content  # the rest of the first answer waits
        release.set()
        finished = await first.wait(lambda e: "correct:" in str(e.json.get("components")))
        acknowledged = await second.wait_callback()
        assert acknowledged.t <= finished.t
        assert first.content == "Paris is the capital of France."
        await second.wait(lambda e: "correct:" in str(e.json.get("components")))
        assert gc.isenabled()  # the garbage collector, which waited for the acknowledgement too, runs again
