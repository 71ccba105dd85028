"""What the community already wrote down: passages from its knowledge sources relevant to a question, given to the
model within a token budget and cited under the answer, but only those the asker and every reader of the answer may
read.

Who may be given a passage from a channel source (the rule, tested in tests/llm/test_knowledge.py):
- never in DMs (a source belongs to a server, as corrections do);
- only to an asker who can view the source channel now (permissions computed as for voice rooms; a private thread's
  members are not known from the cache, so it counts as viewable only from inside it);
- and only where everyone who reads the answer can read the source too: a private (ephemeral) answer is read by its
  asker alone; an answer in the source channel itself or in a thread of it is read by people who can read the source;
  anywhere else, the source must be open to the whole server (@everyone may view it and no overwrite hides it from
  any role or member).
Files added by admins are server-wide: every member of the server may be given them."""

from __future__ import annotations

import asyncio
import io
import math
import re
from collections.abc import Sequence
from typing import Protocol

import attrs

from bot.llm.embeddings import TextEmbedder
from bot.llm.settings import LLMSettings
from bot.llm.tokens import estimate_tokens
from bot.llm.usage import Spender
from bot.store.knowledge import KnowledgeSource, KnowledgeStore, NewPassage
from bot.store.passage_embeddings import PassageEmbeddingStore
from bot.store.passage_search import FoundPassage, PassageSearch, question_terms

MAX_PASSAGE_CHARS = 900
EMBED_PER_QUESTION = 63  # passages embedded along with a question (one request of 64 texts)
CANDIDATES = 50
HEADER = (
    "Passages from this server's own knowledge sources (rules, FAQ, pinned messages, documents). When one answers the "
    "question, answer from it and cite it by its number, like [1]. Where a community-verified answer above says "
    "otherwise, the community-verified answer wins."
)
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


class ChannelAccess(Protocol):
    """Who can read a channel now, as Discord computes it (implemented over the gateway cache in bot/discord)."""

    async def can_view(self, guild_id: int, channel_id: int, user_id: int) -> bool: ...

    async def open_to_everyone(self, guild_id: int, channel_id: int) -> bool: ...

    async def parent_of(self, guild_id: int, channel_id: int) -> int | None: ...


@attrs.frozen
class Reader:
    """Where an answer is shown and who asked: what decides which sources it may use."""

    guild_id: int | None
    channel_id: int
    user_id: int
    seen_only_by_asker: bool  # a private (ephemeral) answer or a DM
    parent_channel_id: int | None = None


@attrs.frozen
class Citation:
    number: int
    label: str
    guild_id: int
    channel_id: int | None
    message_id: int | None
    filename: str | None
    section: str

    @property
    def link(self) -> str | None:
        """A jump link to the message the passage came from (channel sources)."""
        if self.channel_id is None or self.message_id is None:
            return None
        return f"https://discord.com/channels/{self.guild_id}/{self.channel_id}/{self.message_id}"


@attrs.frozen
class KnowledgeBlock:
    text: str  # appended to the system prompt after the corrections; "" when nothing applies
    citations: list[Citation]


def _chunks(text: str, limit: int = MAX_PASSAGE_CHARS) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at paragraph, then line, then sentence, then word ends."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    for separator in ("\n\n", "\n", ". ", " "):
        parts = text.split(separator)
        if len(parts) == 1:
            continue
        pieces: list[str] = []
        current = ""
        for part in parts:
            joined = f"{current}{separator}{part}" if current else part
            if len(joined) <= limit:
                current = joined
                continue
            if current:
                pieces.append(current)
            current = part
        if current:
            pieces.append(current)
        return [c for piece in pieces for c in _chunks(piece, limit)]
    return [text[i : i + limit] for i in range(0, len(text), limit)]


def message_passages(content: str, *, message_id: int, channel_id: int) -> list[NewPassage]:
    """A message's passages: the whole message, or pieces of a long one."""
    return [NewPassage(chunk, message_id=message_id, channel_id=channel_id) for chunk in _chunks(content)]


def file_passages(text: str) -> list[NewPassage]:
    """A Markdown or plain-text document's passages, each under the heading path it sits in (its section)."""
    passages: list[NewPassage] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []

    def flush() -> None:
        section = " › ".join(title for _, title in path)
        passages.extend(NewPassage(chunk, section=section) for chunk in _chunks("\n".join(lines)))
        lines.clear()

    for line in text.splitlines():
        heading = HEADING.match(line)
        if heading is None:
            lines.append(line)
            continue
        flush()
        level = len(heading.group(1))
        path[:] = [(lvl, title) for lvl, title in path if lvl < level] + [(level, heading.group(2))]
    flush()
    return passages


MAX_PDF_PAGES = 500


class UnreadablePdf(Exception):
    """The file is not a PDF we can read text from (damaged, encrypted, or too many pages)."""


def pdf_passages(data: bytes) -> list[NewPassage]:
    """A PDF's text, page by page (each page its section), split into passages. Blocking: run it in a thread."""
    import pypdf  # here: only PDF uploads need it

    try:
        document = pypdf.PdfReader(io.BytesIO(data))
        encrypted, count = document.is_encrypted, len(document.pages)
    except Exception as exc:  # a damaged file may fail anywhere in the parser
        raise UnreadablePdf("it is damaged or not a PDF") from exc
    if encrypted:
        raise UnreadablePdf("it is encrypted")
    if count > MAX_PDF_PAGES:
        raise UnreadablePdf(f"it has more than {MAX_PDF_PAGES} pages")
    try:
        pages = [page.extract_text() or "" for page in document.pages]
    except Exception as exc:
        raise UnreadablePdf("its text could not be read") from exc
    return [
        NewPassage(chunk, section=f"page {number}")
        for number, text in enumerate(pages, start=1)
        for chunk in _chunks(text)
    ]


def _weights(total: int, counts: dict[str, int]) -> dict[str, float]:
    # Rare terms say more about what a passage is about than common ones (inverse document frequency).
    return {t: math.log((total + 1) / (n + 0.5)) for t, n in counts.items()}


def rank(
    found: Sequence[FoundPassage], terms: Sequence[str], total: int, counts: dict[str, int], min_overlap: float
) -> list[tuple[float, FoundPassage]]:
    """Passages holding at least `min_overlap` of the question's terms, both counted and weighted by how rare each
    term is (a word no passage uses weighs most), best first by the weighted share. Either alone lets through
    unrelated questions that share one word with a passage, or drops paraphrases (bench/knowledge.py)."""
    weights = _weights(total, counts)
    whole = sum(weights.get(t, 0.0) for t in terms)
    if whole <= 0 or not terms:
        return []
    scored: list[tuple[float, int, int, FoundPassage]] = []
    for i, p in enumerate(found):
        weighted = sum(weights.get(t, 0.0) for t in p.matched) / whole
        if len(p.matched) / len(terms) >= min_overlap and weighted >= min_overlap:
            scored.append((weighted, len(p.text), i, p))
    scored.sort(key=lambda s: (-s[0], s[1], s[2]))
    return [(score, p) for score, _, _, p in scored]


async def usable_sources(sources: Sequence[KnowledgeSource], reader: Reader, access: ChannelAccess) -> list[int]:
    """The sources whose passages this answer may use (the rule in the module docstring)."""
    guild_id = reader.guild_id
    if guild_id is None:
        return []
    channel_sources = [s for s in sources if s.kind == "channel" and s.channel_id is not None]
    usable = [s.id for s in sources if s.kind == "file"]
    if not channel_sources:
        return usable
    shown_in = {reader.channel_id}
    parent = reader.parent_channel_id or await access.parent_of(guild_id, reader.channel_id)
    if parent is not None:
        shown_in.add(parent)

    async def allowed(source: KnowledgeSource) -> bool:
        assert source.channel_id is not None
        if source.channel_id == reader.channel_id:
            return True  # asked in the source itself: the asker and everyone reading the answer read it already
        if not await access.can_view(guild_id, source.channel_id, reader.user_id):
            return False
        if reader.seen_only_by_asker or source.channel_id in shown_in:
            return True
        return await access.open_to_everyone(guild_id, source.channel_id)

    verdicts = await asyncio.gather(*(allowed(s) for s in channel_sources))
    return usable + [s.id for s, ok in zip(channel_sources, verdicts, strict=True) if ok]


class Knowledge:
    """Which passages a question gets, from the sources its asker and readers may read."""

    def __init__(
        self,
        store: KnowledgeStore,
        search: PassageSearch,
        settings: LLMSettings,
        access: ChannelAccess,
        *,
        embedder: TextEmbedder | None = None,
        embeddings: PassageEmbeddingStore | None = None,
    ) -> None:
        self._store = store
        self._search = search
        self._settings = settings
        self._access = access
        self._embedder = embedder
        self._embeddings = embeddings

    async def relevant(
        self, reader: Reader, question: str, *, has_sources: bool | None = None
    ) -> list[tuple[FoundPassage, KnowledgeSource]]:
        """The best few passages for `question` that `reader` may be given; none for an unrelated question.
        `has_sources`: whether the server has any source, when the caller already read it (None: read it here)."""
        if reader.guild_id is None:
            return []
        if not (await self._store.has_sources(reader.guild_id) if has_sources is None else has_sources):
            return []
        sources = await self._store.sources(reader.guild_id)
        if not sources:
            return []
        allowed = await usable_sources(sources, reader, self._access)
        if not allowed:
            return []
        terms = question_terms(question)
        ranked: dict[int, tuple[float, FoundPassage]] = {}
        found = await self._search.search(reader.guild_id, terms, sources=allowed, limit=CANDIDATES) if terms else []
        if found:
            total, counts = await self._search.document_counts(reader.guild_id, terms)
            for score, passage in rank(found, terms, total, counts, self._settings.knowledge_min_overlap):
                ranked[passage.id] = (score, passage)
        # Asked in other words: passages close in meaning, by embedding (when configured).
        for passage, similarity in await self._similar(reader.guild_id, question, allowed, reader.user_id):
            if similarity > ranked.get(passage.id, (0.0,))[0]:
                ranked[passage.id] = (similarity, passage)
        best = sorted(ranked.values(), key=lambda r: -r[0])[: self._settings.max_passages]
        by_id = {s.id: s for s in sources}
        return [(p, by_id[p.source_id]) for _, p in best]

    async def _similar(
        self, guild_id: int, question: str, allowed: list[int], user_id: int | None
    ) -> list[tuple[FoundPassage, float]]:
        if self._embedder is None or self._embeddings is None:
            return []
        model = self._embedder.model
        # Passages indexed since the last question are embedded now, a batch at a time (one request with it).
        missing = await self._embeddings.missing(guild_id, model, limit=EMBED_PER_QUESTION)
        spender = Spender("embeddings", guild_id, user_id)
        vectors = await self._embedder.embed([question] + [text for _, text in missing], spender=spender)
        if vectors is None:
            return []
        await self._embeddings.store(guild_id, model, [(i, v) for (i, _), v in zip(missing, vectors[1:], strict=True)])
        return await self._embeddings.nearest(
            guild_id,
            model,
            vectors[0],
            sources=allowed,
            limit=CANDIDATES,
            min_similarity=self._settings.min_similarity,
        )

    async def block(self, reader: Reader, question: str, *, has_sources: bool | None = None) -> KnowledgeBlock:
        """The header and as many relevant passages (best first) as fit the knowledge token budget (`has_sources`: as
        in `relevant`)."""
        budget = self._settings.knowledge_token_budget
        used = estimate_tokens(HEADER)
        lines: list[str] = []
        citations: list[Citation] = []
        for passage, source in await self.relevant(reader, question, has_sources=has_sources):
            number = len(citations) + 1
            where = f"{source.label} › {passage.section}" if passage.section else source.label
            line = f"[{number}] ({where}) {passage.text}"
            cost = estimate_tokens(line)
            if used + cost > budget:
                continue
            used += cost
            lines.append(line)
            citations.append(
                Citation(
                    number,
                    source.label,
                    source.guild_id,
                    passage.channel_id,
                    passage.message_id,
                    source.filename,
                    passage.section,
                )
            )
        if not lines:
            return KnowledgeBlock("", [])
        return KnowledgeBlock("\n\n".join([HEADER, *lines]), citations)
