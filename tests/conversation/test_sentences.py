"""Sentence splitting of a streamed answer: spoken as each sentence completes, never mid-abbreviation or mid-number."""

from __future__ import annotations

from bot.conversation.sentences import SentenceSplitter, speakable


def stream(text: str, step: int = 3) -> tuple[list[list[str]], list[str]]:
    splitter = SentenceSplitter()
    fed = [splitter.feed(text[:i]) for i in range(step, len(text) + step, step)]
    return fed, splitter.flush()


def test_sentences_come_out_as_soon_as_they_complete() -> None:
    text = "Paris is the capital. It is on the Seine! Want more?"
    splitter = SentenceSplitter()
    assert splitter.feed("Paris is the capital") == []
    assert splitter.feed("Paris is the capital. It") == ["Paris is the capital."]
    assert splitter.feed(text) == ["It is on the Seine!"]
    assert splitter.flush() == ["Want more?"]


def test_abbreviations_decimals_and_initials_do_not_split() -> None:
    text = "Planets, e.g. Mars, are far. Mars is 1.52 AU away, i.e. about 228 million km. Ask Dr. J. Smith etc. Bye."
    fed, tail = stream(text)
    spoken = [s for batch in fed for s in batch] + tail
    assert spoken == [
        "Planets, e.g. Mars, are far.",
        "Mars is 1.52 AU away, i.e. about 228 million km.",
        "Ask Dr. J. Smith etc. Bye.",
    ]


def test_code_is_not_spoken_and_does_not_hold_back_the_rest() -> None:
    text = "Use a loop:\n```python\nfor i in range(3): print(i. real)\n```\nThat prints three numbers. Done"
    fed, tail = stream(text, step=5)
    spoken = [s for batch in fed for s in batch] + tail
    assert spoken == ["Use a loop:", "That prints three numbers.", "Done"]
    assert not any("range" in s for s in spoken)


def test_an_unfinished_code_block_at_the_end_is_dropped() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Here. ```py\nx = 1.5\n") == ["Here."]
    assert splitter.flush() == []


def test_markdown_is_spoken_as_plain_words() -> None:
    assert speakable("**Mars** is `red`, see [NASA](https://nasa.gov).") == "Mars is red, see NASA."
    assert speakable("## Facts\n- one\n2. two") == "Facts one two"


def test_the_first_phrase_is_spoken_at_a_clause_boundary_once_long_enough() -> None:
    text = "On Mars, the weather is cold and dry, with dust storms; they last for weeks. Winds reach 100 km/h, often."
    splitter = SentenceSplitter(first_phrase_min_chars=16)
    fed = [splitter.feed(text[:i]) for i in range(1, len(text) + 1)]
    spoken = [s for batch in fed for s in batch] + splitter.flush()
    # "On Mars," is too short to say alone; later pieces are whole sentences again (commas do not cut them).
    assert spoken == [
        "On Mars, the weather is cold and dry,",
        "with dust storms; they last for weeks.",
        "Winds reach 100 km/h, often.",
    ]
    assert SentenceSplitter(first_phrase_min_chars=16).feed("It costs 1,000,000 dollars") == []


def test_a_slow_stream_starts_speaking_after_a_few_words_a_fast_one_at_its_first_clause() -> None:
    text = "Mars is cold and dry, about minus sixty degrees on average. It has two small moons."
    now = [0.0]
    slow = SentenceSplitter(16, first_phrase_words=3, first_phrase_wait_s=0.04, clock=lambda: now[0])
    fed: list[list[str]] = []
    for i in range(4, len(text) + 1, 4):  # a model writing 4 characters every 1/60 s
        fed.append(slow.feed(text[:i]))
        now[0] += 1 / 60
    fed.append(slow.feed(text))
    # No clause boundary 40 ms after the first text: speech starts once "Mars is cold" is whole.
    assert fed[:4] == [[], [], [], ["Mars is cold"]]
    assert [s for batch in fed for s in batch] + slow.flush() == [
        "Mars is cold",
        "and dry, about minus sixty degrees on average.",
        "It has two small moons.",
    ]
    # The whole answer at once (a fast model): the first clause is the first phrase, as without the wait.
    fast = SentenceSplitter(16, first_phrase_words=3, first_phrase_wait_s=0.04, clock=lambda: 0.0)
    assert fast.feed(text)[:2] == ["Mars is cold and dry,", "about minus sixty degrees on average."]
