"""Corrections take effect at once: the approved corrections most relevant to a question, given to the model as
community-verified answers within a token budget (only the same server's, and a private one only to its asker)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Sequence

import attrs

from bot.llm.embeddings import Embedder
from bot.llm.settings import LLMSettings
from bot.llm.tokens import estimate_tokens
from bot.llm.usage import Spender
from bot.store.correction_embeddings import EmbeddingStore
from bot.store.correction_search import CorrectionSearch, Found
from bot.store.guilds import GuildSettingsStore

WORD = re.compile(r"[^\W_]+")
# Words that say nothing about what a question is about; they would match nearly every correction.
STOPWORDS = frozenset(
    [
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "and",
        "any",
        "are",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "can",
        "cannot",
        "could",
        "did",
        "does",
        "doing",
        "done",
        "down",
        "during",
        "each",
        "either",
        "else",
        "even",
        "every",
        "few",
        "for",
        "from",
        "further",
        "get",
        "got",
        "had",
        "has",
        "have",
        "having",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "however",
        "into",
        "its",
        "itself",
        "just",
        "know",
        "like",
        "made",
        "make",
        "many",
        "may",
        "might",
        "more",
        "most",
        "much",
        "must",
        "need",
        "not",
        "now",
        "off",
        "once",
        "only",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "please",
        "same",
        "say",
        "says",
        "she",
        "should",
        "since",
        "some",
        "such",
        "tell",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "too",
        "under",
        "until",
        "very",
        "want",
        "was",
        "way",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "would",
        "yes",
        "yet",
        "you",
        "your",
        "yours",
    ]
)
MAX_WORDS = 12
CANDIDATES = 20
EMBED_PER_QUESTION = 63  # corrections embedded along with a question (one request of 64 texts)
HEADER = (
    "Community-verified answers to similar questions, checked by this server's members. When one applies, answer "
    "with its facts, even where they differ from what you believe:"
)


def keywords(text: str) -> list[str]:
    """The words of `text` that say what it is about: lower case, no stop words, no duplicates, at most 12."""
    found = [w for w in WORD.findall(text.lower()) if (len(w) >= 3 or w.isdigit()) and w not in STOPWORDS]
    return list(dict.fromkeys(found))[:MAX_WORDS]


def _stem(word: str) -> str:
    # Crude but symmetric: "capital"/"capitals", "train"/"training" share their first five letters.
    return word[:5]


def overlap(question: str, other: str) -> float:
    """The share of `question`'s keywords that `other` holds too (0 when the question has none)."""
    wanted = {_stem(w) for w in keywords(question)}
    if not wanted:
        return 0.0
    return len(wanted & {_stem(w) for w in keywords(other)}) / len(wanted)


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
        embedder: Embedder | None = None,
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
        chosen = await self._guilds.use_corrections(guild_id)
        return self._settings.use_corrections if chosen is None else chosen

    async def relevant(
        self, guild_id: int, question: str, *, user_id: int | None, exclude: Collection[int] = ()
    ) -> list[Found]:
        """The best few corrections sharing enough of the question's words, or (with embeddings) close to it in meaning;
        none for an unrelated question."""
        words = keywords(question)
        # The search counts words, the overlap below counts stems: ask for no more words than the stems it needs.
        stems = len({_stem(w) for w in words})
        at_least = math.ceil(stems * self._settings.references_min_overlap - 1e-9)
        candidates = await self._search.search(
            guild_id, words, user_id=user_id, limit=CANDIDATES, at_least=at_least, exclude=exclude
        )
        scored = {c.id: (overlap(question, c.question), i, c) for i, c in enumerate(candidates)}
        kept = {k: v for k, v in scored.items() if v[0] >= self._settings.references_min_overlap}
        # Asked in other words: corrections whose question means the same, by embedding (when configured).
        for found, similarity in await self._similar(guild_id, question, user_id=user_id, exclude=exclude):
            if similarity > kept.get(found.id, (0.0,))[0]:
                kept[found.id] = (similarity, len(candidates), found)
        ranked = sorted(kept.values(), key=lambda s: (-s[0], s[1]))
        return [c for _, _, c in ranked][: self._settings.max_references]

    async def _similar(
        self, guild_id: int, question: str, *, user_id: int | None, exclude: Collection[int]
    ) -> list[tuple[Found, float]]:
        if self._embedder is None or self._embeddings is None:
            return []
        model = self._embedder.model
        # Corrections approved or edited since the last question are embedded now (a few at a time).
        missing = await self._embeddings.missing(guild_id, model, limit=EMBED_PER_QUESTION)
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
            min_similarity=self._settings.embeddings_min_similarity,
            exclude=exclude,
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
