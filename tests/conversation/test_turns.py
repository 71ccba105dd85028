"""Utterance boundaries per speaker, on synthetic streams made of the speech fixtures and silence."""

from __future__ import annotations

import numpy as np

from bot.conversation.settings import ConversationSettings
from bot.conversation.turns import (
    SilenceBegan,
    SpeechResumed,
    SpeechStarted,
    TurnEvent,
    UtteranceDetector,
    UtteranceEnded,
    pcm48k_to_16k_mono,
)
from bot.conversation.vad import SileroModel, VoiceActivityDetector
from tests.conversation.doubles import load_fixture, silence, to_48k_stereo_frames


def detector(model: SileroModel, **overrides: object) -> UtteranceDetector:
    settings = ConversationSettings(**overrides)  # type: ignore[arg-type]
    return UtteranceDetector(settings, lambda: VoiceActivityDetector(model))


def feed(d: UtteranceDetector, user_id: int, samples: np.ndarray, t0: float = 0.0) -> list[TurnEvent]:
    events: list[TurnEvent] = []
    for i in range(0, len(samples) - 319, 320):
        events += d.feed(user_id, samples[i : i + 320], t0 + i / 16_000)
    return events


def test_one_utterance_with_its_boundaries(vad_model: SileroModel) -> None:
    speech = load_fixture("weather_question")
    stream = np.concatenate([silence(0.6), speech, silence(1.0)])
    events = feed(detector(vad_model), 1, stream)
    kinds = [type(e) for e in events]
    # A gap between words may begin a pause that the next word ends (transcribed early, for nothing).
    assert kinds[0] is SpeechStarted and kinds[-2:] == [SilenceBegan, UtteranceEnded]
    assert kinds[1:-2] == [SilenceBegan, SpeechResumed] * (len(kinds[1:-2]) // 2)
    ended = events[-1]
    assert isinstance(ended, UtteranceEnded)
    speech_end = 0.6 + len(speech) / 16_000
    assert 0.3 <= ended.started_at <= 0.7
    assert speech_end - 0.4 <= ended.last_voiced_at <= speech_end + 0.05
    assert abs(ended.ended_at - ended.last_voiced_at - 0.5) <= 0.021  # the configured silence, to a frame
    # The utterance holds the whole question and little trailing silence.
    assert len(speech) * 0.8 <= len(ended.samples) <= len(speech) + 0.5 * 16_000


def test_the_speculative_samples_are_the_final_ones(vad_model: SileroModel) -> None:
    events = feed(detector(vad_model), 1, np.concatenate([load_fixture("capital_of_france"), silence(1.0)]))
    began = [e for e in events if isinstance(e, SilenceBegan)][-1]  # the pause that ended the utterance
    ended = next(e for e in events if isinstance(e, UtteranceEnded))
    assert began.last_voiced_at == ended.last_voiced_at
    # The same audio, but for the end of the short tail kept after the last voiced frame, not yet heard in the pause.
    heard = len(began.samples)
    assert np.array_equal(began.samples, ended.samples[:heard])
    assert 0 < len(ended.samples) - heard <= 960  # 60 ms: 100 ms of tail, 40 ms of it heard


def test_talking_on_after_a_pause_resumes_the_same_utterance(vad_model: SileroModel) -> None:
    first = load_fixture("weather_question")[: int(2.15 * 16_000)]
    stream = np.concatenate([first, silence(0.25), load_fixture("capital_of_france"), silence(1.0)])
    events = feed(detector(vad_model), 1, stream)
    ended = [e for e in events if isinstance(e, UtteranceEnded)]
    assert len(ended) == 1  # one question, paused in the middle
    kinds = [type(e) for e in events]
    # The 0.25 s pause (a gap between words may have begun one earlier).
    resumed = next(i for i, e in enumerate(events) if isinstance(e, SpeechResumed) and e.at >= 2.15)
    assert kinds[resumed - 1] is SilenceBegan
    at = events[resumed].at
    # Announced once the speaker has talked on for barge_in_min_speech_ms (100 ms) after the pause.
    assert 2.15 + 0.25 - 0.1 <= at <= 2.15 + 0.25 + 0.25
    assert kinds[resumed + 1 :].count(SpeechResumed) <= kinds[resumed + 1 :].count(SilenceBegan)


def test_a_short_blip_is_not_an_utterance(vad_model: SileroModel) -> None:
    blip = load_fixture("weather_question")[8000:11200]  # 200 ms of a word
    events = feed(detector(vad_model, min_utterance_ms=300), 1, np.concatenate([silence(0.5), blip, silence(1.0)]))
    assert not [e for e in events if isinstance(e, UtteranceEnded)]


def test_a_monologue_is_cut_at_the_maximum_length(vad_model: SileroModel) -> None:
    speech = load_fixture("weather_question")
    events = feed(detector(vad_model, max_utterance_s=1.5), 1, np.concatenate([speech, speech, silence(1.0)]))
    ended = [e for e in events if isinstance(e, UtteranceEnded)]
    assert len(ended) >= 3 and ended[0].cut
    for piece in ended:
        assert piece.ended_at - piece.started_at <= 1.5 + 0.021
    assert len(ended[0].samples) == 24_000


def test_two_speakers_in_a_row_are_attributed(vad_model: SileroModel) -> None:
    d = detector(vad_model)
    first = feed(d, 1, np.concatenate([load_fixture("weather_question"), silence(0.8)]))
    second = feed(d, 2, np.concatenate([load_fixture("capital_of_france"), silence(0.8)]), t0=4.0)
    ended = [e for e in first + second if isinstance(e, UtteranceEnded)]
    assert [e.user_id for e in ended] == [1, 2]
    assert ended[1].started_at >= 3.7


def test_utterances_noticed_in_the_same_tick_end_in_the_order_they_were_spoken(vad_model: SileroModel) -> None:
    d = detector(vad_model)
    late = load_fixture("capital_of_france")[: int(1.8 * 16_000)]
    early = load_fixture("weather_question")[: int(2.1 * 16_000)]
    feed(d, 2, late, t0=1.0)  # heard first, but still talking when the other speaker stops
    feed(d, 1, early, t0=0.0)
    ended = [e for e in d.tick(10.0) if isinstance(e, UtteranceEnded)]
    assert [e.user_id for e in ended] == [1, 2]


def test_a_client_that_stops_sending_still_ends_its_utterance(vad_model: SileroModel) -> None:
    d = detector(vad_model)
    speech = load_fixture("capital_of_france")[: int(1.6 * 16_000)]  # cut while still talking
    events = feed(d, 5, speech)
    assert not [e for e in events if isinstance(e, UtteranceEnded)]
    assert d.speaking == [5]
    end = len(speech) / 16_000
    assert not [e for e in d.tick(end + 0.3) if isinstance(e, UtteranceEnded)]
    ended = [e for e in d.tick(end + 0.55) if isinstance(e, UtteranceEnded)]
    assert [e.user_id for e in ended] == [5]
    assert d.speaking == []


def test_received_pcm_is_downmixed_and_resampled() -> None:
    speech = load_fixture("capital_of_france")[:16_000]
    back = np.concatenate([pcm48k_to_16k_mono(f) for f in to_48k_stereo_frames(speech)])[:16_000]
    assert np.max(np.abs(back - speech)) < 1e-3
