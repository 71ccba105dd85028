"""Voice rooms: one voice session and one conversation per guild, joined and left on request or when alone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
from collections.abc import Awaitable, Callable

import attrs
import hikari

from bot.conversation.addressing import AddressingMode
from bot.conversation.settings import ConversationSettings
from bot.conversation.vad import SileroModel
from bot.conversation.voice_conversation import TurnRecord, VoiceConversation
from bot.discord.language import guild_locale
from bot.discord.message_split import DISCORD_LIMIT, clip
from bot.discord.permissions import channel_permissions
from bot.discord.replies import answer_buttons
from bot.errors import InvalidInput, NotAllowed, ServiceUnavailable
from bot.i18n import _, speaking
from bot.llm.answering import Answerer
from bot.metrics import Metrics
from bot.speech.transcribe import Transcriber, VoiceTranscription
from bot.speech.tts import SpeechEngine
from bot.store.answers import AnswerStore
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


BOT_NEEDS = hikari.Permissions.VIEW_CHANNEL | hikari.Permissions.CONNECT | hikari.Permissions.SPEAK
CALLER_NEEDS = hikari.Permissions.VIEW_CHANNEL | hikari.Permissions.CONNECT


@attrs.frozen
class Caller:
    """Who asks the bot to join or leave: their id, roles, whether they are a bot admin, and their voice channel."""

    user_id: int
    role_ids: list[int]
    admin: bool
    in_channel: int | None


def check_join(app: hikari.RESTAware, rooms: VoiceRooms, guild_id: int, target: int, caller: Caller) -> None:
    """The bot listens to (and transcribes) everyone in a room, so it goes only where its caller is, unless an admin
    sends it; both need the permissions to be there, and a conversation elsewhere is not pulled away by a bystander."""
    if caller.in_channel != target and not caller.admin:
        raise NotAllowed(_("I only join a voice channel you are in. Join it first (admins may send me anywhere)."))
    theirs = channel_permissions(app, guild_id, target, caller.user_id, caller.role_ids)
    if theirs is None or (theirs & CALLER_NEEDS) != CALLER_NEEDS:
        raise NotAllowed(_("You can't connect to <#{target}>, so I won't join it for you.", target=target))
    mine = _bot_permissions(app, guild_id, target)
    if mine is None or (mine & BOT_NEEDS) != BOT_NEEDS:
        raise InvalidInput(
            _("I need the View Channel, Connect and Speak permissions in <#{target}>. Ask an admin.", target=target)
        )
    room = rooms.get(guild_id)
    if room is not None and room.channel_id != target and not caller.admin and caller.in_channel != room.channel_id:
        raise NotAllowed(
            _(
                "I'm in a conversation in <#{channel_id}>. Someone there (or an admin) can move me.",
                channel_id=room.channel_id,
            )
        )
    rooms.check_capacity(guild_id)


def _bot_permissions(app: hikari.RESTAware, guild_id: int, channel_id: int) -> hikari.Permissions | None:
    if not isinstance(app, hikari.CacheAware):
        return None
    me = app.cache.get_me()
    member = app.cache.get_member(guild_id, me.id) if me is not None else None
    if me is None or member is None:
        return None
    return channel_permissions(app, guild_id, channel_id, int(me.id), [int(r) for r in member.role_ids])


def check_leave(room: Room, caller: Caller) -> None:
    if caller.in_channel != room.channel_id and not caller.admin:
        raise NotAllowed(
            _("Only someone in <#{channel_id}> (or an admin) can make me leave it.", channel_id=room.channel_id)
        )


# A mention and its comma take about 24 characters; an embed field holds 1,024 (a voice channel, up to 99 people).
MAX_HEARD_SHOWN = 40


def status_embed(room: Room) -> hikari.Embed:
    """/voice status: the connection, its encryption and privacy code, who is heard, and recent reply latency."""
    status = room.session.status()
    talk = room.conversation.status
    embed = hikari.Embed(title=_("Voice"), color=0x57F287 if status.connected else 0xED4245)
    embed.add_field(_("Channel"), f"<#{status.channel_id}>", inline=True)
    state = _("yes") if status.connected else _("reconnecting…")
    if status.state == "ended":
        state = _("no — {reason}. `/voice join` to try again", reason=status.ended_reason)
    embed.add_field(_("Connected"), state, inline=True)
    latency = _("{ms} ms", ms=f"{status.latency_ms:.0f}") if status.latency_ms is not None else "—"
    embed.add_field(_("Gateway latency"), latency, inline=True)
    encryption = f"{status.encryption_mode or '—'}; DAVE v{status.dave_protocol_version}"
    if status.dave_reinitialisations or status.dave_rejoins:
        # Members' audio stopped decrypting and the bot recovered it: worth knowing when someone was not heard.
        encryption += "; " + _(
            "keys re-synced {resynced}× and rejoined {rejoined}× after members could not be heard",
            resynced=status.dave_reinitialisations,
            rejoined=status.dave_rejoins,
        )
    embed.add_field(_("Encryption"), encryption)
    code = status.privacy_code
    shown = " ".join(code[i : i + 5] for i in range(0, len(code), 5)) if code else _("not end-to-end encrypted")
    embed.add_field(_("Voice privacy code"), f"`{shown}`")
    heard = sorted(set(status.heard_users) | set(talk.speaking))
    hearing = ", ".join(f"<@{u}>" for u in heard[:MAX_HEARD_SHOWN]) or _("nobody right now")
    if len(heard) > MAX_HEARD_SHOWN:
        hearing += " " + _("and {count} more", count=len(heard) - MAX_HEARD_SHOWN)
    embed.add_field(_("Hearing"), hearing)
    turns = [t.timings.first_packet_ms for t in talk.recent_turns if t.timings.first_packet_ms is not None]
    if turns:
        embed.add_field(
            _("Reply latency (last turns)"),
            _(
                "median {ms} ms over {turns} turn(s), from end of speech to reply",
                ms=f"{statistics.median(turns):.0f}",
                turns=len(turns),
            ),
        )
    return embed


class TranscriptPoster:
    """Writes each voice turn out in the transcript channel (when one is configured), with the Correct button."""

    def __init__(self, rest: hikari.api.RESTClient, answers: AnswerStore, channel_id: int | None) -> None:
        self._rest = rest
        self._answers = answers
        self._channel = channel_id

    async def __call__(self, guild_id: int, turn: TurnRecord) -> None:
        if self._channel is None or turn.answer_id is None:
            return
        text = clip(f"🎙️ <@{turn.user_id}>: *{turn.transcript}*\n\n{turn.answer_text}", DISCORD_LIMIT)
        with speaking(await guild_locale(self._rest, guild_id)):  # the buttons' labels, in the server's language
            buttons = answer_buttons(turn.answer_id)
        message = await self._rest.create_message(self._channel, text, components=[buttons], user_mentions=False)
        await self._answers.set_message_ids(turn.answer_id, [int(message.id)])
        _log.debug("voice turn in guild %s posted to %s", guild_id, self._channel)


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
        metrics: Metrics | None = None,
    ) -> None:
        self._bot = bot
        self._metrics = metrics or Metrics()
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

    @property
    def count(self) -> int:
        """Voice channels this process is in (one per guild)."""
        return len(self._rooms)

    def get(self, guild_id: int | None) -> Room | None:
        return None if guild_id is None else self._rooms.get(guild_id)

    def check_capacity(self, guild_id: int) -> None:
        """A new room past `max_sessions` is refused (moving within a guild keeps its room)."""
        if guild_id not in self._rooms and len(self._rooms) >= self._voice.max_sessions:
            raise ServiceUnavailable(
                _("I'm already talking in as many voice channels as I can handle. Try again when one of them ends.")
            )

    async def join(self, guild_id: int, channel_id: int) -> Room:
        async with self._joining:
            current = self._rooms.get(guild_id)
            if current is not None and current.channel_id == channel_id and current.session.is_alive:
                return current
            self.check_capacity(guild_id)  # again under the lock: two joins at once cannot both take the last place
            if current is not None:
                await self._close(current)
            try:
                session = await connect(self._bot, guild_id, channel_id, self._voice)
            except (VoiceConnectFailed, TimeoutError, hikari.HikariError) as exc:
                _log.warning("could not join voice channel %s in guild %s: %s", channel_id, guild_id, exc)
                raise ServiceUnavailable(_("I couldn't connect to that voice channel. Try again in a moment.")) from exc

            async def on_turn(turn: TurnRecord) -> None:
                if turn.answer_id is not None:
                    self._metrics.answered("voice")
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
        return self._conversation.guild_addressing.get(str(guild_id))  # None: the configured default

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
