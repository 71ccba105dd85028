"""Discord's side in lightbulb's DI, in two steps. `install_outlets` first: what the packages below speak to Discord
through (missing-model notices, channel access for knowledge, training announcements). `install` last: what commands
and listeners use (answers streamed into replies, threads, voice rooms, the knowledge reader, budget notices)."""

from __future__ import annotations

import hikari

from bot.conversation.settings import ConversationSettings
from bot.discord.health import count_interactions, shard_latencies
from bot.discord.knowledge import CachedChannelAccess, KnowledgeReader
from bot.discord.model_notices import ModelNotices
from bot.discord.replies import Asker
from bot.discord.settings import DiscordSettings
from bot.discord.threads import ConversationThreads
from bot.discord.training import JobAnnouncer
from bot.discord.usage import BudgetNotices
from bot.discord.voice_rooms import TranscriptPoster, VoiceRooms
from bot.finetuning.watcher import Announcements
from bot.llm.answering import Answerer, MissingModelNotices
from bot.llm.knowledge import ChannelAccess
from bot.llm.retirements import Clock, utc_now
from bot.llm.settings import LLMSettings
from bot.llm.usage import UsageLedger
from bot.metrics import Metrics
from bot.speech.settings import SpeechSettings
from bot.speech.transcribe import Transcriber
from bot.speech.tts import SpeechEngine
from bot.store.answers import AnswerStore
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore
from bot.store.knowledge import KnowledgeStore
from bot.store.model_notices import ModelNoticeStore
from bot.store.model_tests import ModelTestStore
from bot.store.threads import ThreadStore
from bot.voice.settings import VoiceSettings
from bot.wiring import Stage, Wiring


def install_outlets(wiring: Wiring, bot: hikari.GatewayBot, *, clock: Clock = utc_now) -> None:
    notices = ModelNotices(
        bot.rest,
        wiring.get(ModelNoticeStore),
        wiring.get(JobStore),
        wiring.get(GuildSettingsStore),
        discord=wiring.get(DiscordSettings),
        llm=wiring.get(LLMSettings),
        guild_ids=lambda: bot.cache.get_guilds_view().keys(),
        clock=clock,
    )
    wiring.add(ModelNotices, notices)
    wiring.add(MissingModelNotices, notices)
    wiring.on_start(notices.start)  # servers whose model shuts down soon are told (once)
    wiring.on_close(Stage.INTAKE, notices.stop)
    wiring.add(ChannelAccess, CachedChannelAccess(bot))
    wiring.add(Announcements, JobAnnouncer(bot.rest, wiring.get(ModelTestStore)))


def install(wiring: Wiring, bot: hikari.GatewayBot) -> None:
    metrics, llm = wiring.get(Metrics), wiring.get(LLMSettings)
    count_interactions(bot, metrics)
    metrics.read_gateway_latency(lambda: shard_latencies(bot.shards))
    wiring.get(UsageLedger).on_notice(BudgetNotices(bot).send)
    answerer, answers, transcriber = wiring.get(Answerer), wiring.get(AnswerStore), wiring.get(Transcriber)
    threads = wiring.add(ConversationThreads, ConversationThreads(bot, wiring.get(ThreadStore)))
    wiring.add(
        Asker,
        Asker(
            answerer,
            answers,
            transcriber,
            wiring.get(SpeechSettings),
            llm=llm,
            threads=threads,
            edit_interval_s=llm.edit_interval_s,
            metrics=metrics,
        ),
    )
    reader = wiring.add(KnowledgeReader, KnowledgeReader(bot, wiring.get(KnowledgeStore), llm))
    reader.subscribe(bot)
    wiring.on_start(reader.start)  # catches up with what changed in source channels while the bot was away
    wiring.on_stop(reader.stop)
    wiring.on_close(Stage.INTAKE, reader.stop)
    conversation = wiring.get(ConversationSettings)
    rooms = wiring.add(
        VoiceRooms,
        VoiceRooms(
            bot,
            voice=wiring.get(VoiceSettings),
            conversation=conversation,
            transcriber=transcriber,
            answerer=answerer,
            speech=wiring.get(SpeechEngine),
            on_turn=TranscriptPoster(bot.rest, answers, conversation.transcript_channel_id),
            metrics=metrics,
        ),
    )
    metrics.read_voice_sessions(lambda: rooms.count)
    wiring.on_close(Stage.INTAKE, rooms.close)
