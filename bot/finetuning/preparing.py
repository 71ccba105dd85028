"""Before Confirm: the training data (an uploaded file or the server's approved corrections) checked line by line
off the event loop, written out as the JSONL that would be uploaded, and kept waiting for an admin's Confirm."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from collections.abc import AsyncIterable, Sequence
from pathlib import Path
from typing import Literal

import attrs

from bot.errors import InvalidInput, NotFound
from bot.finetuning.awaiting_confirm import PreparedDataset, PreparedDatasets, new_id
from bot.finetuning.backends import Backend, configured_backends
from bot.finetuning.builder import corrections_dataset
from bot.finetuning.held_out import split_approved
from bot.finetuning.settings import TrainingSettings
from bot.finetuning.tokens import TokenCounter
from bot.finetuning.trainer import Method
from bot.finetuning.training_files import DatasetReport, DatasetRules, validate_path
from bot.i18n import _
from bot.store.corrections import Correction

SUFFIX = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
NAMES = {"sft": "plain examples (supervised)", "dpo": "preference pairs (DPO)"}
SHOWN_NAME = 100  # a typed model name is quoted back at most this long


@attrs.frozen
class TrainingAsk:
    """What an admin asked /train for, checked: the base model, the new model's suffix, the method if named."""

    base_model: str
    suffix: str | None
    method: Method | None
    guild_id: int
    channel_id: int
    requester_id: int
    backend: str = ""  # the configured backend's name ("" only in tests that never start a job)


class DatasetPreparer:
    def __init__(self, prepared: PreparedDatasets, counter: TokenCounter, settings: TrainingSettings) -> None:
        self._prepared = prepared
        self._counter = counter
        self._settings = settings
        self._backends = configured_backends(settings)

    @property
    def max_upload_bytes(self) -> int:
        return int(self._settings.max_upload_mb * 1024 * 1024)

    def ask(
        self,
        base_model: str | None,
        suffix: str | None,
        method: str | None,
        *,
        guild_id: int,
        channel_id: int,
        requester_id: int,
        backend: str | None = None,
    ) -> TrainingAsk:
        """The request, checked before anything is downloaded: a configured backend and one of its base models, a
        safe suffix."""
        found = self.backend(backend)
        model = (base_model or found.default_base_model).strip()
        if model not in found.base_models:
            names = ", ".join(f"`{m}`" for m in found.base_models)
            shown = model if len(model) <= SHOWN_NAME else model[: SHOWN_NAME - 1] + "…"  # typed: may be long
            if len(self._backends) == 1:
                text = _(
                    "`{shown}` is not a base model this bot trains. Choose one of: {names}.", shown=shown, names=names
                )
            else:
                text = _(
                    "`{shown}` is not a base model backend `{backend}` trains. Choose one of: {names}.",
                    shown=shown,
                    backend=found.name,
                    names=names,
                )
            raise InvalidInput(text)
        cleaned = (suffix or "").strip().lower() or None
        if cleaned is not None and not SUFFIX.match(cleaned):
            raise InvalidInput(_("The suffix may use a-z, 0-9, - and _ only, up to 40 characters."))
        wanted: Method | None = "dpo" if method == "dpo" else "sft" if method == "sft" else None
        return TrainingAsk(model, cleaned, wanted, guild_id, channel_id, requester_id, found.name)

    @property
    def backends(self) -> dict[str, Backend]:
        return self._backends

    def backend(self, name: str | None) -> Backend:
        """A configured backend by name (None: the default); a clear error for any other name."""
        found = self._backends.get(self._settings.backend if name is None else name.strip())
        if found is None:
            assert name is not None
            shown = name if len(name) <= SHOWN_NAME else name[: SHOWN_NAME - 1] + "…"
            names = ", ".join(f"`{n}`" for n in self._backends)
            raise InvalidInput(
                _("`{shown}` is not a training backend of this bot. Choose one of: {names}.", shown=shown, names=names)
            )
        return found

    async def from_upload(
        self, chunks: AsyncIterable[bytes], fmt: Literal["jsonl", "csv"], ask: TrainingAsk
    ) -> PreparedDataset:
        """An uploaded file, streamed to disk under a generated name, then checked."""
        upload = self._prepared.new_path(".upload")
        try:
            with open(upload, "wb") as f:  # noqa: ASYNC230 - small writes of streamed chunks
                async for chunk in chunks:
                    f.write(chunk)
            return await self._prepare(upload, fmt, ask, _("uploaded file"))
        finally:
            upload.unlink(missing_ok=True)

    async def from_kept(self, kept: Path, ask: TrainingAsk, described: str) -> PreparedDataset:
        """A job's kept training file, checked again for the base model asked for now (the kept file stays)."""
        copy = self._prepared.new_path(".raw")
        try:
            await asyncio.to_thread(shutil.copyfile, kept, copy)
            return await self._prepare(copy, "jsonl", ask, described)
        finally:
            copy.unlink(missing_ok=True)

    async def from_corrections(
        self, corrections: Sequence[Correction], ask: TrainingAsk, default_system_prompt: str | None
    ) -> PreparedDataset:
        """The approved corrections minus the held-out test set (which no model is ever trained on)."""
        if not corrections:
            raise NotFound(_("There are no approved corrections yet. Review some with `/corrections review`."))
        parts = split_approved(corrections, self._settings)
        if not parts.training:
            raise NotFound(
                _(
                    "All {count} approved corrections are held out as the test set. Approve more first.",
                    count=len(parts.held_out),
                )
            )
        method = ask.method or "sft"
        # An endorsed answer (voted 👍, kept as given) has no worse answer to make a preference pair with.
        training = [c for c in parts.training if method == "sft" or c.kind == "correction"]
        if not training:
            raise NotFound(
                _("The approved examples are all endorsed answers, which make no DPO pairs: train with SFT.")
            )
        raw = self._prepared.new_path(".raw")
        try:
            data = corrections_dataset(training, method, default_system_prompt)
            await asyncio.to_thread(raw.write_bytes, data)
            described = _(
                "{count} approved corrections ({held} held out for testing)",
                count=len(training),
                held=len(parts.held_out),
            )
            return await self._prepare(raw, "jsonl", ask, described)
        finally:
            raw.unlink(missing_ok=True)

    async def _prepare(
        self, source: Path, fmt: Literal["jsonl", "csv"], ask: TrainingAsk, described: str
    ) -> PreparedDataset:
        out = self._prepared.new_path()
        try:
            report = await asyncio.to_thread(validate_path, source, fmt, self._rules(ask), out, self._counter)
            kind = self._check(report, ask)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        prepared = PreparedDataset(
            id=new_id(),
            path=out,
            report=report,
            method=kind,
            base_model=ask.base_model,
            backend=ask.backend,
            suffix=ask.suffix,
            guild_id=ask.guild_id,
            channel_id=ask.channel_id,
            requester_id=ask.requester_id,
            source=described,
            created=time.monotonic(),
        )
        self._prepared.add(prepared)
        return prepared

    def _rules(self, ask: TrainingAsk) -> DatasetRules:
        s = self._settings
        found = self._backends.get(ask.backend or s.backend)
        prices = found.prices_per_million_tokens if found is not None else s.prices_per_million_tokens
        return DatasetRules(
            min_examples=s.min_examples,
            max_tokens_per_example=s.max_tokens_per_example,
            epochs=s.epochs,
            price_per_million=prices.get(ask.base_model),  # each backend its own prices
            encoding=s.encoding,
        )

    @staticmethod
    def _check(report: DatasetReport, ask: TrainingAsk) -> Method:
        if not report.ok:
            raise InvalidInput(
                _("The training data has problems:\n```\n{problems}\n```", problems=report.error_summary()[:1800])
            )
        assert report.kind is not None
        if ask.method is not None and ask.method != report.kind:
            raise InvalidInput(
                _(
                    "The data holds {kind}, which does not fit method `{method}`.",
                    kind=NAMES[report.kind],
                    method=ask.method,
                )
            )
        return report.kind
