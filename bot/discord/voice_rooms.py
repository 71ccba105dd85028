"""Voice rooms: one voice session and one conversation per guild, joined and left on request or when alone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import attrs
import hikari

from bot.conversation.addressing import AddressingMode
from bot.conversation.session import TurnRecord, VoiceConversation
from bot.conversation.settings import ConversationSettings
from bot.conversation.vad import SileroModel
from bot.errors import ServiceUnavailable
from bot.llm.answering import Answerer
from bot.speech.audio import Samples
from bot.speech.transcribe import Transcriber, Transcript
from bot.speech.tts import SpeechEngine
from bot.voice import VoiceConnectFailed, VoiceSession, VoiceSettings, connect

_log = logging.getLogger(__name__)

OnTurn = Callable[[int, TurnRecord], Awaitable[None]]  # (guild id, turn)


@attrs.define
class Room:
    guild_id: int
    channel_id: int
    session: VoiceSession
    conversation: VoiceConversation
    listening: asyncio.Task[None]
    alone_since: asyncio.TimerHandle | None = None
    speaking: set[asyncio.Task[None]] = attrs.field(factory=set[asyncio.Task[None]])


def caller_channel(app: hikari.RESTAware, guild_id: int, user_id: int) -> int | None:
    cache = app.cache if isinstance(app, hikari.CacheAware) else None
    state = cache.get_voice_state(guild_id, user_id) if cache is not None else None
    return int(state.channel_id) if state is not None and state.channel_id is not None else None


def humans_in(app: hikari.RESTAware, guild_id: int, channel_id: int) -> int:
    cache = app.cache if isinstance(app, hikari.CacheAware) else None
    if cache is None:
        return 0
    states = cache.get_voice_states_view_for_channel(guild_id, channel_id)
    return sum(1 for s in states.values() if s.member is not None and not s.member.is_bot)


class VoiceTranscription:
    """The Transcriber as voice turns use it: greedy decoding, and the short window when the language is known."""

    def __init__(self, transcriber: Transcriber, *, short_window: bool) -> None:
        self._transcriber = transcriber
        self._short_window = short_window

    async def transcribe(self, samples: Samples, /, language: str | None = None) -> Transcript:
        return await self._transcriber.transcribe(samples, language, beam_size=1, short_window=self._short_window)


class VoiceRooms:
    def __init__(
        self,
        bot: hikari.GatewayBot,
        *,
        voice: VoiceSettings,
        conversation: ConversationSettings,
        transcriber: Transcriber,
        answerer: Answerer,
        speech: SpeechEngine,
        on_turn: OnTurn,
    ) -> None:
        self._bot = bot
        self._voice = voice
        self._conversation = conversation
        self._transcriber_voice = VoiceTranscription(transcriber, short_window=conversation.short_window)
        self._answerer = answerer
        self._speech = speech
        self._on_turn = on_turn
        self._vad = SileroModel()
        # Shared by every guild: transcriptions are the heavy part of a turn.
        self._slots = asyncio.Semaphore(conversation.max_concurrent_transcriptions)
        self._rooms: dict[int, Room] = {}
        self._joining = asyncio.Lock()
        self._leaving: set[asyncio.Task[bool]] = set()

    def get(self, guild_id: int | None) -> Room | None:
        return None if guild_id is None else self._rooms.get(guild_id)

    async def join(self, guild_id: int, channel_id: int) -> Room:
        async with self._joining:
            current = self._rooms.get(guild_id)
            if current is not None and current.channel_id == channel_id and current.session.is_alive:
                return current
            if current is not None:
                await self._close(current)
            try:
                session = await connect(self._bot, guild_id, channel_id, self._voice)
            except (VoiceConnectFailed, TimeoutError, hikari.HikariError) as exc:
                _log.warning("could not join voice channel %s in guild %s: %s", channel_id, guild_id, exc)
                raise ServiceUnavailable("I couldn't connect to that voice channel. Try again in a moment.") from exc

            async def on_turn(turn: TurnRecord) -> None:
                await self._on_turn(guild_id, turn)

            conversation = VoiceConversation(
                guild_id=guild_id,
                channel_id=channel_id,
                settings=self._conversation,
                vad_model=self._vad,
                transcriber=self._transcriber_voice,
                transcription_slots=self._slots,
                answerer=self._answerer,
                voice=self._speech,
                speaker=session.player,
                on_turn=on_turn,
                addressing=self._addressing(guild_id),
            )
            listening = asyncio.get_running_loop().create_task(
                conversation.run(session.receiver.heard()), name=f"voice conversation {guild_id}"
            )
            room = Room(guild_id, channel_id, session, conversation, listening)
            self._rooms[guild_id] = room
            _log.info("joined voice channel %s in guild %s", channel_id, guild_id)
            return room

    def _addressing(self, guild_id: int) -> AddressingMode | None:
        mode = self._conversation.guild_addressing.get(str(guild_id))
        if mode == "all":
            return "all"
        return "name" if mode == "name" else None  # None: the configured default

    async def leave(self, guild_id: int) -> bool:
        room = self._rooms.pop(guild_id, None)
        if room is None:
            return False
        await self._close(room)
        return True

    async def _close(self, room: Room) -> None:
        self._rooms.pop(room.guild_id, None)
        if room.alone_since is not None:
            room.alone_since.cancel()
        for task in [room.listening, *room.speaking]:
            task.cancel()
        await room.conversation.close()
        for task in [room.listening, *room.speaking]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self._bot.voice.disconnect(room.guild_id)
        _log.info("left voice channel %s in guild %s", room.channel_id, room.guild_id)

    def say(self, guild_id: int, text: str) -> bool:
        """Speak `text` in the guild's voice room without waiting for it (the /ask answer, for listeners)."""
        room = self._rooms.get(guild_id)
        if room is None:
            return False

        async def speak() -> None:
            try:
                await room.session.player.play(self._speech.stream_pcm48k(text, None))
            except Exception as exc:  # speaking is a courtesy: the text answer was already given
                _log.warning("could not speak an answer in guild %s: %s", guild_id, exc)

        task = asyncio.get_running_loop().create_task(speak())
        room.speaking.add(task)
        task.add_done_callback(room.speaking.discard)
        return True

    def people_changed(self, guild_id: int, humans_in_channel: int) -> None:
        """Leave after `alone_leave_s` once nobody but bots is left in the room's channel."""
        room = self._rooms.get(guild_id)
        if room is None:
            return
        if humans_in_channel > 0:
            if room.alone_since is not None:
                room.alone_since.cancel()
                room.alone_since = None
            return
        if room.alone_since is None:
            loop = asyncio.get_running_loop()

            def leave_now() -> None:
                task = loop.create_task(self.leave(guild_id))
                self._leaving.add(task)
                task.add_done_callback(self._leaving.discard)

            room.alone_since = loop.call_later(self._conversation.alone_leave_s, leave_now)

    async def close(self) -> None:
        for guild_id in list(self._rooms):
            await self.leave(guild_id)
