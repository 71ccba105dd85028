"""Settings of the chat model and of how conversations are built for it."""

from __future__ import annotations

import attrs

from bot.config_tables import non_negative, positive


@attrs.frozen
class LLMSettings:
    """The chat model and how conversations are built for it."""

    default_model: str = "gpt-4o-mini"
    # Models an admin may switch a server to with /model use, besides the server's fine-tuned ones.
    models: list[str] = attrs.field(factory=lambda: ["gpt-4o-mini", "gpt-4.1-mini"])
    system_prompt: str = "You are a helpful assistant in a Discord community. Answer concisely."
    max_answer_tokens: int = attrs.field(default=1024, validator=positive)
    temperature: float | None = None
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
    # The share of a question's keywords a correction's question must hold to be given to the model.
    references_min_overlap: float = attrs.field(default=0.5, validator=positive)
