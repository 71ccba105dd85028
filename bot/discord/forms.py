"""Modal forms: building text fields with prefilled values, and reading what the user submitted."""

from __future__ import annotations

import attrs
import hikari

# Discord's limits for text inputs in modals.
MODAL_TITLE_LIMIT = 45
LABEL_LIMIT = 45
VALUE_LIMIT = 4000


@attrs.frozen
class Field:
    custom_id: str
    label: str
    value: str = ""
    paragraph: bool = True
    required: bool = False
    max_length: int = VALUE_LIMIT
    placeholder: str = ""


def prefill(text: str, limit: int = VALUE_LIMIT) -> str:
    """A prefilled value must fit the field; longer text is cut with an ellipsis (the stored original is kept)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rows(fields: list[Field]) -> list[hikari.api.ModalActionRowBuilder]:
    built: list[hikari.api.ModalActionRowBuilder] = []
    for f in fields:
        row = hikari.impl.ModalActionRowBuilder()
        row.add_text_input(
            f.custom_id,
            f.label[:LABEL_LIMIT],
            style=hikari.TextInputStyle.PARAGRAPH if f.paragraph else hikari.TextInputStyle.SHORT,
            value=prefill(f.value, f.max_length) if f.value else hikari.UNDEFINED,
            placeholder=f.placeholder or hikari.UNDEFINED,
            required=f.required,
            max_length=f.max_length,
        )
        built.append(row)
    return built


def submitted(interaction: hikari.ModalInteraction) -> dict[str, str]:
    """Field custom id → submitted text (empty fields come back as "")."""
    values: dict[str, str] = {}
    for row in interaction.components:
        for component in row.components:
            values[component.custom_id] = component.value or ""
    return values
