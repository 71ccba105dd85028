"""Think blocks are told apart from the answer wherever the stream splits them, tags included; so is thinking the
prompt opened (a lone `</think>`), even once part of it was given as answer."""

from __future__ import annotations

from bot.llm.reasoning import Delta, ThinkSplitter, answer_only

STREAM = "<think>weigh options</think>Answer: 1 < 2, and <b> is bold."
# A chat template that opens `<think>` in the prompt (DeepSeek-R1, QwQ): the output starts inside the thinking.
OPENED_IN_PROMPT = "weigh options</think>Answer: 1 < 2, and <b> is bold."


def read(deltas: list[Delta]) -> tuple[str, str]:
    """(answer, thinking) as a reader of the deltas ends up with them (as bot.llm.answering.Reply keeps them)."""
    answer = thinking = ""
    for delta in deltas:
        if delta.answer_was_thinking:
            thinking, answer = thinking + answer, ""
        if delta.thinking:
            thinking += delta.text
        else:
            answer += delta.text
    return answer, thinking


def split_at(stream: str, cuts: list[int]) -> tuple[str, str]:
    splitter = ThinkSplitter()
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    return read([d for p in pieces for d in splitter.feed(p)] + list(splitter.end()))


def test_every_single_cut_keeps_thinking_out_of_the_answer() -> None:
    for stream in (STREAM, OPENED_IN_PROMPT):
        for cut in range(1, len(stream)):
            assert split_at(stream, [cut]) == ("Answer: 1 < 2, and <b> is bold.", "weigh options"), (stream, cut)


def test_one_character_deltas() -> None:
    for stream in (STREAM, OPENED_IN_PROMPT):
        answer = split_at(stream, list(range(1, len(stream))))
        assert answer == ("Answer: 1 < 2, and <b> is bold.", "weigh options"), stream


def test_thinking_opened_in_the_prompt_takes_back_what_was_given_as_answer() -> None:
    splitter = ThinkSplitter()
    first = list(splitter.feed("The user asks"))
    assert first == [Delta("The user asks")]  # nothing says it is thinking yet
    rest = [*splitter.feed(" about Paris</th"), *splitter.feed("ink>It is Paris."), *splitter.end()]
    assert read(first + rest) == ("It is Paris.", "The user asks about Paris")
    assert any(d.answer_was_thinking for d in rest)


def test_an_unclosed_think_block_is_all_thinking_and_a_lone_angle_bracket_is_answer() -> None:
    splitter = ThinkSplitter()
    deltas = [*splitter.feed("<think>still going <"), *splitter.end()]
    assert all(d.thinking for d in deltas) and "".join(d.text for d in deltas) == "still going <"
    plain = ThinkSplitter()
    assert read([*plain.feed("x </th"), *plain.end()]) == ("x </th", "")


def test_a_whole_completion_keeps_its_answer_alone() -> None:
    assert answer_only(STREAM) == answer_only(OPENED_IN_PROMPT) == "Answer: 1 < 2, and <b> is bold."
    assert answer_only('thinking</think>{"score": 9}') == '{"score": 9}'
    assert answer_only("only thoughts</think>") == ""
    assert answer_only("no thinking at all") == "no thinking at all"
