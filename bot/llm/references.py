"""Corrections take effect at once: the approved corrections most relevant to a question, given to the model as
community-verified answers within a token budget (only the same server's, and a private one only to its asker)."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence

import attrs

from bot.llm.embeddings import TextEmbedder
from bot.llm.settings import LLMSettings
from bot.llm.tokens import estimate_tokens
from bot.llm.usage import Spender
from bot.store.correction_embeddings import EmbeddingStore
from bot.store.correction_search import CorrectionSearch, Found, Term
from bot.store.guilds import GuildSettingsStore
from bot.store.search_terms import MAX_TERMS, words

CANDIDATES = 20
RRF_K = 60  # reciprocal rank fusion's usual constant: the top few ranks of each list weigh about the same
EMBED_PER_QUESTION = 63  # corrections embedded along with a question (one request of 64 texts)
HEADER = (
    "Community-verified answers to similar questions, checked by this server's members. When one applies, answer "
    "with its facts, even where they differ from what you believe:"
)


def lexical_match(asked: Sequence[Term], indexed: Sequence[str]) -> tuple[int, float]:
    """How many of the question's terms a correction's question holds, and the share of its own terms that they
    cover (a correction about little else than what was asked ranks first)."""
    matched = sum(any(t.matches(i) for i in indexed) for t in asked)
    covered = sum(any(t.matches(i) for t in asked) for i in indexed)
    return matched, covered / len(indexed) if indexed else 0.0


def terms_needed(asked: int, min_overlap: float) -> int:
    """How many of a question's terms a correction must hold: `min_overlap` of them, and two when it has two or
    more (one shared word, "сервер" or "password", says little about what two questions are about)."""
    return max(math.ceil(asked * min_overlap - 1e-9), min(asked, 2))


def fuse(*rankings: Sequence[Found]) -> list[Found]:
    """One ranking from several (reciprocal rank fusion): a correction both find ranks above one that only one finds;
    each ranking holds only what passed its own threshold, so fusing never adds a correction none of them kept."""
    score: dict[int, float] = {}
    first: dict[int, Found] = {}
    for ranking in rankings:
        for rank, found in enumerate(ranking, start=1):
            score[found.id] = score.get(found.id, 0.0) + 1 / (RRF_K + rank)
            first.setdefault(found.id, found)
    return sorted(first.values(), key=lambda f: -score[f.id])  # stable: ties keep the earlier ranking's order


@attrs.frozen
class ReferenceBlock:
    text: str  # appended to the system prompt; "" when nothing applies
    ids: list[int]  # the corrections it holds, in order


def reference_block(found: Sequence[Found], budget: int, count: Callable[[str], int] | None = None) -> ReferenceBlock:
    """The header and as many corrections (best first) as fit `budget` tokens."""
    count = count or estimate_tokens
    lines: list[str] = []
    ids: list[int] = []
    used = count(HEADER)
    for item in found:
        line = f"[correction #{item.id}] Q: {item.question}\nA: {item.corrected_answer}"
        cost = count(line)
        if used + cost > budget:
            continue
        used += cost
        lines.append(line)
        ids.append(item.id)
    if not lines:
        return ReferenceBlock("", [])
    return ReferenceBlock("\n\n".join([HEADER, *lines]), ids)


class References:
    """Which approved corrections a question gets, if the server has corrections on."""

    def __init__(
        self,
        search: CorrectionSearch,
        guilds: GuildSettingsStore,
        settings: LLMSettings,
        *,
        embedder: TextEmbedder | None = None,
        embeddings: EmbeddingStore | None = None,
    ) -> None:
        self._search = search
        self._guilds = guilds
        self._settings = settings
        self._embedder = embedder
        self._embeddings = embeddings

    async def enabled(self, guild_id: int | None) -> bool:
        if guild_id is None:
            return False  # DMs: corrections belong to a server
        return self.chosen(await self._guilds.use_corrections(guild_id))

    def chosen(self, use_corrections: bool | None) -> bool:
        """Whether a server gives corrections to the model: its choice, else (None: never chosen) the default."""
        return self._settings.use_corrections if use_corrections is None else use_corrections

    async def relevant(
        self, guild_id: int, question: str, *, user_id: int | None, exclude: Collection[int] = ()
    ) -> list[Found]:
        """The best few corrections sharing enough of the question's terms (in any form, or misspelt), or (with
        embeddings) close to it in meaning; none for an unrelated question."""
        asked_words = words(question)[:MAX_TERMS]
        vocabulary = await self._search.vocabulary(guild_id) if asked_words else None
        asked = [Term(t, vocabulary.also(w, t) if vocabulary else ()) for w, t in asked_words]
        at_least = terms_needed(len(asked), self._settings.references_min_overlap)
        candidates = await self._search.search(
            guild_id, asked, user_id=user_id, limit=CANDIDATES, at_least=at_least, exclude=exclude
        )
        kept: dict[int, tuple[float, float, int, Found]] = {}
        for i, found in enumerate(candidates):
            indexed = found.terms.split()
            matched, covered = lexical_match(asked, indexed)
            # A one-term question finds only a correction that is mostly about that term.
            if matched >= at_least and (len(asked) > 1 or covered >= 0.5):
                kept[found.id] = (matched / len(asked), covered, -i, found)
        by_words = [c for *_, c in sorted(kept.values(), key=lambda s: (s[0], s[1], s[2]), reverse=True)]
        # Asked in other words or another language: corrections whose question means the same, by embedding.
        by_meaning = [f for f, _ in await self._similar(guild_id, question, user_id=user_id, exclude=exclude)]
        return fuse(by_words, by_meaning)[: self._settings.max_references]

    async def _similar(
        self, guild_id: int, question: str, *, user_id: int | None, exclude: Collection[int]
    ) -> list[tuple[Found, float]]:
        if self._embedder is None or self._embeddings is None:
            return []
        model = self._embedder.model
        # Corrections approved or edited since the last question are embedded now (a few at a time).
        stored = await self._embeddings.look(guild_id, model, limit=EMBED_PER_QUESTION)
        missing = stored.missing
        if not missing and stored.version is None:
            return []  # a server with no approved correction: nothing to compare the question with
        spender = Spender("embeddings", guild_id, user_id)
        vectors = await self._embedder.embed([question] + [text for _, text in missing], spender=spender)
        if vectors is None:
            return []
        await self._embeddings.store(
            guild_id, model, [(i, text, v) for (i, text), v in zip(missing, vectors[1:], strict=True)]
        )
        return await self._embeddings.nearest(
            guild_id,
            model,
            vectors[0],
            user_id=user_id,
            limit=CANDIDATES,
            min_similarity=self._settings.min_similarity,
            exclude=exclude,
            as_of=None if missing else stored.version,  # what was just stored changed it
        )

    async def block(
        self,
        guild_id: int | None,
        question: str,
        *,
        user_id: int | None,
        exclude: Collection[int] = (),
        force: bool | None = None,
    ) -> ReferenceBlock:
        """What goes into the system prompt for `question` (`force` overrides the server's on/off)."""
        on = await self.enabled(guild_id) if force is None else force
        if not on or guild_id is None:
            return ReferenceBlock("", [])
        found = await self.relevant(guild_id, question, user_id=user_id, exclude=exclude)
        return reference_block(found, self._settings.references_token_budget)
