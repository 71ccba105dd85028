"""Which messages the bot answers without a command (a mention, a DM, a chat channel, its own threads) and what it
takes as the question; other people's chatter, bots and empty mentions get no answer."""

from __future__ import annotations

import hikari

from bot.discord.heard_messages import HeardQuestion, heard_question
from bot.discord.settings import DiscordSettings
from bot.store.threads import BotThread

ME = 1000
GUILD = 10
CHANNEL = 20
CHAT = 21
THREAD = 22
OUR_THREAD = BotThread(thread_id=THREAD, guild_id=GUILD, parent_channel_id=CHANNEL, conversation_id="c1")


class Me:
    id = hikari.Snowflake(ME)


class Bot(hikari.GatewayBot):
    """An unstarted gateway bot that knows who it is (what the bot reads to see it was mentioned)."""

    def get_me(self) -> hikari.OwnUser | None:
        return Me()  # type: ignore[return-value]


BOT = Bot("MTAwMA.fake.token", banner=None, logs=None)


class Author:
    def __init__(self, *, is_bot: bool = False, is_system: bool = False) -> None:
        self.id = hikari.Snowflake(7)
        self.is_bot = is_bot
        self.is_system = is_system


class Attachment:
    def __init__(self, filename: str, media_type: str | None) -> None:
        self.filename = filename
        self.media_type = media_type


class Message:
    def __init__(
        self,
        content: str | None,
        *,
        guild_id: int | None = GUILD,
        channel_id: int = CHANNEL,
        mentions: tuple[int, ...] = (),
        attachments: tuple[Attachment, ...] = (),
        webhook_id: int | None = None,
    ) -> None:
        self.content = content
        self.guild_id = guild_id
        self.channel_id = hikari.Snowflake(channel_id)
        self.user_mentions_ids = [hikari.Snowflake(m) for m in mentions]
        self.attachments = list(attachments)
        self.flags = hikari.MessageFlag.NONE
        self.webhook_id = webhook_id


class Event:
    def __init__(self, message: Message, author: Author | None = None) -> None:
        self.message = message
        self.author = author or Author()
        self.app = BOT


class Threads:
    """The bot's conversation threads: only OUR_THREAD is one."""

    async def find(self, channel_id: int) -> BotThread | None:
        return OUR_THREAD if channel_id == THREAD else None


async def heard(
    message: Message, settings: DiscordSettings | None = None, author: Author | None = None
) -> HeardQuestion | None:
    settings = settings or DiscordSettings(chat_channels=[CHAT])
    return await heard_question(Event(message, author), settings, Threads())  # type: ignore[arg-type]


async def test_a_mention_is_answered_with_the_mention_taken_out_of_the_question() -> None:
    question = await heard(Message(f"<@{ME}> what is a tensor?", mentions=(ME,)))
    assert question == HeardQuestion("what is a tensor?", None, [], "mention", None)
    nickname = await heard(Message(f"hey <@!{ME}>, and a matrix?", mentions=(ME,)))
    assert nickname is not None and nickname.text == "hey , and a matrix?"


async def test_chatter_in_an_ordinary_channel_or_mentioning_someone_else_is_left_alone() -> None:
    assert await heard(Message("what is a tensor?")) is None
    assert await heard(Message("<@55> what is a tensor?", mentions=(55,))) is None


async def test_a_configured_chat_channel_is_answered_without_a_mention() -> None:
    question = await heard(Message("what is a tensor?", channel_id=CHAT))
    assert question is not None and (question.text, question.route) == ("what is a tensor?", "chat")


async def test_dms_are_answered_unless_the_operator_turned_them_off() -> None:
    question = await heard(Message("hi there", guild_id=None))
    assert question is not None and (question.text, question.route, question.thread) == ("hi there", "dm", None)
    assert await heard(Message("hi there", guild_id=None), DiscordSettings(answer_in_dms=False)) is None


async def test_the_bots_own_thread_goes_on_by_mention_or_always_when_configured() -> None:
    assert await heard(Message("and then?", channel_id=THREAD)) is None  # threads answer mentions by default
    mentioned = await heard(Message(f"<@{ME}> and then?", channel_id=THREAD, mentions=(ME,)))
    assert mentioned is not None and (mentioned.route, mentioned.thread) == ("mention", OUR_THREAD)
    always = DiscordSettings(answer_in_threads=True)
    unmentioned = await heard(Message("and then?", channel_id=THREAD), always)
    assert unmentioned is not None and (unmentioned.text, unmentioned.route) == ("and then?", "chat")
    assert unmentioned.thread == OUR_THREAD
    assert await heard(Message("and then?", channel_id=23), always) is None  # someone else's thread


async def test_bots_system_messages_and_webhooks_are_never_answered() -> None:
    asking = f"<@{ME}> what is a tensor?"
    assert await heard(Message(asking, mentions=(ME,)), author=Author(is_bot=True)) is None
    assert await heard(Message(asking, mentions=(ME,)), author=Author(is_system=True)) is None
    assert await heard(Message(asking, mentions=(ME,), webhook_id=5)) is None


async def test_a_bare_mention_asks_nothing_but_a_recording_or_picture_does() -> None:
    assert await heard(Message(f"<@{ME}>", mentions=(ME,))) is None
    assert await heard(Message(None, guild_id=None)) is None
    voice = Attachment("voice.ogg", "audio/ogg")
    recorded = await heard(Message(f"<@{ME}>", mentions=(ME,), attachments=(voice,)))
    assert recorded is not None and recorded.text == "" and recorded.audio is voice
    picture, notes = Attachment("cat.png", "image/png"), Attachment("notes.txt", "text/plain")
    pictured = await heard(Message("what is this?", guild_id=None, attachments=(picture, notes)))
    assert pictured is not None and pictured.pictures == [picture] and pictured.audio is None
