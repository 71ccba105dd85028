"""Settings of the chat model and of how conversations are built for it."""

from __future__ import annotations

import re
from typing import Literal

import attrs

from bot.config_tables import non_negative, positive
from bot.llm.retirements import KNOWN_SHUTDOWNS, date_text


@attrs.frozen
class LLMSettings:
    """The chat model and how conversations are built for it."""

    # Provider model names are configuration and vanish: gpt-4o(-mini) and gpt-4.1(-mini) shut down on 2027-01-14.
    default_model: str = "gpt-6-luna"
    # Models an admin may switch a server to with /model use, besides the server's fine-tuned ones.
    models: list[str] = attrs.field(factory=lambda: ["gpt-6-luna", "gpt-6.1-terra"])
    # The default persona; /persona sets one per server or channel (a channel's wins).
    system_prompt: str = (
        "You are a helpful assistant in a Discord community. Answer concisely, in the language of the question."
    )
    max_persona_chars: int = attrs.field(default=2000, validator=positive)
    max_answer_tokens: int = attrs.field(default=1024, validator=positive)
    temperature: float | None = None
    # The answer-length field: OpenAI's reasoning models (gpt-5 on) refuse the older `max_tokens` with a 400; some
    # OpenAI-compatible servers know only `max_tokens`.
    tokens_field: Literal["max_completion_tokens", "max_tokens"] = "max_completion_tokens"
    # Sent as `reasoning_effort` when set (e.g. "low": a chat answer needs little thinking); unset: the model's default.
    reasoning_effort: str | None = None
    request_timeout_s: float = attrs.field(default=60.0, validator=positive)
    max_retries: int = attrs.field(default=2, validator=non_negative)
    # Conversation memory: the same user's recent turns in the same channel.
    memory_turns: int = attrs.field(default=6, validator=non_negative)
    memory_max_age_minutes: float = attrs.field(default=60.0, validator=positive)
    context_token_budget: int = attrs.field(default=3000, validator=positive)
    max_question_chars: int = attrs.field(default=4000, validator=positive)
    # Answers produced at once; more wait their turn (already acknowledged) so a burst cannot starve the bot.
    max_concurrent_answers: int = attrs.field(default=16, validator=positive)
    # Streaming edits happen at most this often (Discord allows roughly 5 edits per 5 s per message).
    edit_interval_s: float = attrs.field(default=1.0, validator=positive)
    # Approved corrections relevant to a question are given to the model with it (per server: /model corrections).
    use_corrections: bool = True
    max_references: int = attrs.field(default=3, validator=non_negative)
    references_token_budget: int = attrs.field(default=800, validator=positive)
    # The share of a question's terms (stems, any word form) a correction's question must hold to be given to the
    # model; and at least two of them, when the question has two or more.
    references_min_overlap: float = attrs.field(default=0.5, validator=positive)
    # Optional: also find corrections asked in other words, by embeddings from the model endpoint's /embeddings (e.g.
    # "text-embedding-3-small", or any OpenAI-compatible server's embedding model). Unset: full-text search only.
    embeddings_model: str | None = None
    # Where embeddings come from: "local" (a multilingual model on the CPU, `local_embeddings_model`), "endpoint"
    # (`embeddings_model` above) or "off". Unset: "endpoint" when `embeddings_model` is set, else "local" (for
    # corrections; knowledge passages are found by meaning only with embeddings chosen here or `embeddings_model`).
    embeddings: Literal["off", "local", "endpoint"] | None = None
    # The local model: "universal-sentence-encoder-multilingual-3" (shipped in a Python package, nothing to
    # download), a Model2Vec model's directory, or its hub name (downloaded on first use).
    local_embeddings_model: str = "universal-sentence-encoder-multilingual-3"
    # The cosine similarity a correction's question needs to the one asked, to be given by its embedding alone: from
    # the endpoint's model, and from the local one (0.63: the default model's false positives stay at 0.05 on
    # bench/retrieval.py's set; each model has its own scale, so measure again after changing it).
    embeddings_min_similarity: float = attrs.field(default=0.8, validator=positive)
    local_embeddings_min_similarity: float = attrs.field(default=0.63, validator=positive)
    # Knowledge sources (/knowledge): channels, threads and files whose passages relevant to a question are given to
    # the model and cited under the answer. Reading channels needs the privileged Message Content intent.
    knowledge_sources: bool = False
    max_passages: int = attrs.field(default=4, validator=non_negative)
    knowledge_token_budget: int = attrs.field(default=1000, validator=positive)
    # The share of a question's terms a passage must hold to be given to the model, counted and weighted by how rare
    # each term is (0.3: hit@3 0.94 and 98% of unrelated questions given nothing in bench/knowledge.py).
    knowledge_min_overlap: float = attrs.field(default=0.3, validator=positive)
    knowledge_max_file_mb: float = attrs.field(default=2.0, validator=positive)
    # Channel sources are re-read this often, for edits and deletions missed while the bot was away.
    knowledge_recheck_minutes: float = attrs.field(default=360.0, validator=positive)
    # Models that take pictures; a picture sent to any other model is refused with a clear message.
    vision_models: list[str] = attrs.field(factory=lambda: ["gpt-6-luna", "gpt-6.1-terra"])
    # Pictures: checked before download, then downscaled to fit `image_max_side` and re-encoded for the model.
    max_image_mb: float = attrs.field(default=10.0, validator=positive)
    max_image_pixels: int = attrs.field(default=40_000_000, validator=positive)
    image_max_side: int = attrs.field(default=1024, validator=positive)
    max_images: int = attrs.field(default=4, validator=positive)
    # Reasoning models' thinking, by model: "hide" (default) or "spoiler" (shown collapsed above the answer).
    reasoning: dict[str, Literal["hide", "spoiler"]] = attrs.field(factory=dict[str, Literal["hide", "spoiler"]])

    # Announced shutdown dates (model or base = "YYYY-MM-DD"); a fine-tune shuts down with its base.
    shutdowns: dict[str, str] = attrs.field(factory=lambda: dict(KNOWN_SHUTDOWNS), validator=date_text)
    # Servers whose model (or its base) shuts down within this many days are told once, with the command that moves
    # them.
    shutdown_notice_days: int = attrs.field(default=21, validator=positive)
    # A model the provider answered "not found" for is left alone this long (answers come from the fallback) before it
    # is tried again.
    model_retry_s: float = attrs.field(default=900.0, validator=positive)

    @property
    def embeddings_source(self) -> Literal["off", "local", "endpoint"]:
        if self.embeddings is not None:
            return self.embeddings
        return "endpoint" if self.embeddings_model else "local"

    @property
    def passage_embeddings(self) -> bool:
        """Whether knowledge passages are found by meaning too: the default local model was measured on questions
        (bench/retrieval.py), not on passages, so only where embeddings were chosen."""
        return self.embeddings_source != "off" and (self.embeddings is not None or self.embeddings_model is not None)

    @property
    def min_similarity(self) -> float:
        """The cosine similarity that finds a text by its embedding alone, for the embeddings in use."""
        local = self.embeddings_source == "local"
        return self.local_embeddings_min_similarity if local else self.embeddings_min_similarity

    def takes_images(self, model: str) -> bool:
        """Listed models take pictures, and so do their dated snapshots and fine-tunes (`ft:base:org:suffix:id`)."""
        base = model.split(":")[1] if model.startswith("ft:") and model.count(":") >= 2 else model
        undated = re.sub(r"-\d{4}-\d{2}-\d{2}$", "", base)
        return any(m in self.vision_models for m in (model, base, undated))

    def shows_thinking(self, model: str) -> bool:
        return self.reasoning.get(model, "hide") == "spoiler"
