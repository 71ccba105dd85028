"""Think blocks are told apart from the answer wherever the stream splits them, tags included."""

from __future__ import annotations

from bot.llm.reasoning import ThinkSplitter

STREAM = "<think>weigh options</think>Answer: 1 < 2, and <b> is bold."


def split_at(cuts: list[int]) -> tuple[str, str]:
    splitter = ThinkSplitter()
    pieces = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)], strict=True)]
    deltas = [d for p in pieces for d in splitter.feed(p)] + list(splitter.end())
    answer = "".join(d.text for d in deltas if not d.thinking)
    thinking = "".join(d.text for d in deltas if d.thinking)
    return answer, thinking


def test_every_single_cut_keeps_thinking_out_of_the_answer() -> None:
    for cut in range(1, len(STREAM)):
        assert split_at([cut]) == ("Answer: 1 < 2, and <b> is bold.", "weigh options"), cut


def test_one_character_deltas() -> None:
    assert split_at(list(range(1, len(STREAM)))) == ("Answer: 1 < 2, and <b> is bold.", "weigh options")


def test_an_unclosed_think_block_is_all_thinking_and_a_lone_angle_bracket_is_answer() -> None:
    splitter = ThinkSplitter()
    deltas = [*splitter.feed("<think>still going <"), *splitter.end()]
    assert all(d.thinking for d in deltas) and "".join(d.text for d in deltas) == "still going <"
    plain = ThinkSplitter()
    deltas = [*plain.feed("x <"), *plain.end()]
    assert "".join(d.text for d in deltas if not d.thinking) == "x <"
