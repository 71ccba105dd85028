"""Showing a streamed answer: edits at most once per interval, long answers over several messages, the buttons last."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import hikari

from bot.discord.replies import MAX_SHOWN_THINKING, StreamedReply, spoiler


class Recorder:
    """A ReplyTarget that remembers every create, edit and delete."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str, bool]] = []
        self._next = 100

    async def create(self, index: int, content: str, components: Sequence[object]) -> hikari.Snowflake:
        self.calls.append(("create", index, content, bool(components)))
        self._next += 1
        return hikari.Snowflake(self._next)

    async def edit(self, index: int, message_id: hikari.Snowflake, content: str, components: Sequence[object]) -> None:
        self.calls.append(("edit", index, content, bool(components)))

    async def delete(self, index: int, message_id: hikari.Snowflake) -> None:
        self.calls.append(("delete", index, "", False))

    def shown(self) -> list[str]:
        """What each message shows now, in order."""
        messages: dict[int, str] = {}
        for kind, index, content, _ in self.calls:
            if kind == "delete":
                del messages[index]
            else:
                messages[index] = content
        return [messages[i] for i in sorted(messages)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def texts(clock: Clock, parts: list[str], step: float) -> AsyncIterator[str]:
    text = ""
    for part in parts:
        text += part
        clock.now += step
        yield text


async def test_edits_are_throttled_and_the_final_text_carries_the_buttons() -> None:
    target, clock = Recorder(), Clock()
    reply = StreamedReply(target, interval_s=1.0, clock=clock)
    shown = await reply.follow(texts(clock, ["a", "b", "c", "d", "e"], step=0.4))
    assert shown == "abcde"
    # At 0.4 s the first text is shown; the next update is due a second later (1.6 s: "abcd").
    assert target.calls == [("create", 0, "a", False), ("edit", 0, "abcd", False)]
    clock.now += 5  # past the interval, so finishing does not wait
    ids = await reply.finish("abcde", [hikari.impl.MessageActionRowBuilder()])
    assert target.calls[-1] == ("edit", 0, "abcde", True) and ids == [hikari.Snowflake(101)]


async def test_a_long_answer_continues_in_new_messages_and_only_the_last_has_buttons() -> None:
    target, clock = Recorder(), Clock()
    reply = StreamedReply(target, interval_s=1.0, limit=20, clock=clock)
    clock.now = 10
    ids = await reply.finish("first words here. " + "second part of it. " + "end.", ["button"])  # type: ignore[list-item]
    assert [c[0] for c in target.calls] == ["create", "create", "create"]
    assert [c[3] for c in target.calls] == [False, False, True]
    assert all(len(c[2]) <= 20 for c in target.calls) and len(ids) == 3


async def test_an_unchanged_text_is_not_edited_again() -> None:
    target, clock = Recorder(), Clock()
    reply = StreamedReply(target, interval_s=0.0, clock=clock)
    await reply.follow(texts(clock, ["same", ""], step=1))
    assert target.calls == [("create", 0, "same", False)]


async def test_a_text_that_shrinks_takes_back_the_messages_it_no_longer_reaches() -> None:
    target, clock = Recorder(), Clock()
    reply = StreamedReply(target, interval_s=0.0, limit=20, clock=clock)
    thoughts = "first thought here. second one here. third one, too."
    await reply.follow(texts(clock, [thoughts], step=1))
    assert len(target.shown()) == 3
    ids = await reply.finish("Paris.", ["button"])  # type: ignore[list-item]
    assert target.shown() == ["Paris."] and len(ids) == 1
    assert [c[:2] for c in target.calls[-3:]] == [("edit", 0), ("delete", 2), ("delete", 1)]
    assert target.calls[-3][3]  # the button is on the one message left


def spoiler_end(message: str) -> int:
    """Where Discord's markdown ends a spoiler that opens the message: the next `||` not escaped by a backslash."""
    assert message.startswith("||")
    at = 2
    while at < len(message) - 1:
        if message[at] == "\\":
            at += 2
        elif message.startswith("||", at):
            return at
        else:
            at += 1
    return -1


def unescaped(text: str) -> str:
    out, at = "", 0
    while at < len(text):
        if text[at] == "\\" and at + 1 < len(text):
            at += 1
        out += text[at]
        at += 1
    return out


def test_a_spoiler_of_thinking_ends_where_the_thinking_does_whatever_it_holds() -> None:
    for thinking in ("a||b", "a|||b", "ends in a pipe |", "ends in a backslash \\", "|| starts", "x\\||y", "a \\| b"):
        shown = spoiler(thinking)
        end = spoiler_end(shown)
        assert shown[end:] == "||\n\n", thinking
        assert unescaped(shown[2:end]) == "🤔 " + thinking, thinking
    long = spoiler("a" * (MAX_SHOWN_THINKING - 2) + "||||")
    end = spoiler_end(long)
    assert long[end:] == "||\n\n" and unescaped(long[2:end]).endswith("a|…")
