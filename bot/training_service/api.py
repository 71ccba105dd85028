"""The HTTP API: the part of OpenAI's Files and Fine-tuning API that the bot's OpenAITrainer uses."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from bot.job_status import ACTIVE
from bot.training_service.config import TrainerSettings
from bot.training_service.job_queue import JobRunner, Layout
from bot.training_service.job_spec import Hyperparameters, Method
from bot.training_service.store import StoredFile, StoredJob, TrainerStore, new_id

_log = logging.getLogger(__name__)
Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

WRITE_CHUNK = 1024 * 1024
# Form fields besides the file (purpose, expires_after[...]) are short words; anything longer is refused unread.
MAX_FIELD_BYTES = 1024
METHODS = {"supervised", "dpo"}
HYPER_KEYS = {
    "supervised": {"n_epochs", "batch_size", "learning_rate_multiplier"},
    "dpo": {"n_epochs", "batch_size", "learning_rate_multiplier", "beta"},
}
JOB_KEYS = {
    "model",
    "training_file",
    "method",
    "hyperparameters",
    "suffix",
    "metadata",
    "seed",
    "validation_file",
    "integrations",
}
_METADATA_QUERY = re.compile(r"^metadata\[(.+)\]$")
# When the service stops, uploads under way are waited for this long (their clean-up included).
SETTLE_S = 10.0


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None, kind: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.kind = kind or ("invalid_request_error" if status < 500 else "server_error")


def error_response(error: ApiError) -> web.Response:
    body = {"error": {"message": error.message, "type": error.kind, "param": error.param, "code": error.code}}
    return web.json_response(body, status=error.status)


def _not_found(what: str, ident: str) -> ApiError:
    shown = ident if len(ident) <= 64 else ident[:64] + "…"
    return ApiError(404, f"No such {what}: {shown}", code=f"{what}_not_found", kind="invalid_request_error")


class TrainerApi:
    def __init__(
        self,
        settings: TrainerSettings,
        store: TrainerStore,
        runner: JobRunner,
        layout: Layout,
        api_key: str | None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._runner = runner
        self._layout = layout
        self._api_key = api_key
        self._allowed_hosts = {h.strip().lower().rstrip(".") for h in settings.allowed_hosts}
        self._uploading = 0
        self._uploads_settled = asyncio.Event()
        self._uploads_settled.set()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors, self._same_machine, self._auth], client_max_size=1024 * 1024)
        r = app.router
        r.add_post("/v1/files", self.upload)
        r.add_get("/v1/files/{id}", self.get_file)
        r.add_delete("/v1/files/{id}", self.delete_file)
        r.add_post("/v1/fine_tuning/jobs", self.create_job)
        r.add_get("/v1/fine_tuning/jobs", self.list_jobs)
        r.add_get("/v1/fine_tuning/jobs/{id}", self.get_job)
        r.add_post("/v1/fine_tuning/jobs/{id}/cancel", self.cancel_job)
        r.add_get("/v1/fine_tuning/jobs/{id}/events", self.list_events)
        return app

    # ----- middleware -------------------------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc)
        except web.HTTPException as exc:
            if exc.status == 404:
                return error_response(ApiError(404, f"Unknown endpoint: {request.method} {request.path}"))
            if exc.status == 405:
                return error_response(ApiError(405, f"Method {request.method} is not allowed on {request.path}"))
            if exc.status == 413:
                return error_response(ApiError(413, "The request body is too large."))
            raise
        except Exception:
            ident = secrets.token_hex(4)
            _log.exception("request %s %s failed (error id %s)", request.method, request.path, ident)
            return error_response(ApiError(500, f"The training service had an internal error (id {ident})."))

    @web.middleware
    async def _same_machine(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Without a key, loopback is the only guard, and a web page in the operator's browser is on loopback too:
        refuse a Host that is not this machine (DNS rebinding: evil.example resolving to 127.0.0.1) and any request
        a page sent (browsers name the page's Origin). With a key, the key is the guard: a page cannot know it, and
        a browser sends no Authorization header across origins without a CORS preflight this service never grants."""
        if self._api_key is None:
            if not self._allowed(_hostname(request.host)):
                raise ApiError(
                    403,
                    "This training service answers only requests to its loopback address (or its allowed_hosts).",
                    code="host_not_allowed",
                )
            origin = request.headers.get("Origin")
            if origin is not None and not self._allowed(_hostname(origin, is_url=True)):
                raise ApiError(403, "Requests from web pages are not accepted.", code="origin_not_allowed")
        return await handler(request)

    def _allowed(self, name: str | None) -> bool:
        if name is None:
            return False
        if name == "localhost" or name in self._allowed_hosts:
            return True
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._api_key is not None:
            header = request.headers.get("Authorization", "")
            given = header[7:] if header[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(given.encode(), self._api_key.encode()):
                raise ApiError(
                    401,
                    "Incorrect API key provided." if given else "Missing API key (Authorization: Bearer ...).",
                    code="invalid_api_key",
                )
        return await handler(request)

    # ----- files ------------------------------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.Response:
        """Written to a temporary name and kept only once complete and recorded: an upload that fails for any
        reason (a bad field, a second file, the client gone) leaves nothing on disk."""
        _content_type(request, "multipart/form-data")
        self._uploading += 1
        self._uploads_settled.clear()
        file_id = new_id("file")
        partial = self._layout.upload_partial(file_id)
        try:
            record = await self._read_upload(request, file_id, partial)
            # Once the file is being kept, a cancelled request no longer stops it half-way (file without record).
            await asyncio.shield(self._keep(record, partial))
        except BaseException:
            await asyncio.to_thread(partial.unlink, True)
            raise
        finally:
            self._uploading -= 1
            if not self._uploading:
                self._uploads_settled.set()
        return web.json_response(record.payload())

    async def _read_upload(self, request: web.Request, file_id: str, partial: Path) -> StoredFile:
        """The upload's record once its fields are checked and its file is written to `partial`."""
        purpose: str | None = None
        received: tuple[str, int] | None = None
        limit = int(self._settings.max_upload_mb * 1024 * 1024)
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    raise ApiError(400, "Nested multipart bodies are not accepted.")
                if part.name == "purpose":
                    purpose = await _field(part, "purpose")
                elif part.name == "file":
                    if received is not None:
                        raise ApiError(400, "Only one file per upload.", param="file")
                    received = await self._receive(part, partial, limit)
                else:
                    await part.release()
        except (HttpProcessingError, ConnectionError, ValueError) as exc:
            # A malformed body, a part header over aiohttp's line limit, or the client gone mid-upload.
            _log.info("upload %s abandoned: %s", partial.stem, type(exc).__name__)
            raise ApiError(400, "The upload was cut short or is not valid multipart/form-data.") from exc
        if received is None:
            raise ApiError(400, "Missing the 'file' field.", param="file")
        if purpose != "fine-tune":
            raise ApiError(400, "This service only accepts purpose 'fine-tune'.", param="purpose")
        filename, size = received
        return StoredFile(file_id, filename, purpose, size, int(time.time()))

    async def _receive(self, part: BodyPartReader, partial: Path, limit: int) -> tuple[str, int]:
        """Stream the part to disk, a buffer at a time; never whole in memory. (filename, size)"""
        filename = (part.filename or "upload.jsonl")[:255]
        await asyncio.to_thread(partial.parent.mkdir, parents=True, exist_ok=True)
        handle = await asyncio.to_thread(partial.open, "wb")
        size = 0
        try:
            buffer = bytearray()
            while chunk := await part.read_chunk(256 * 1024):
                size += len(chunk)
                self._check_size(size, limit)
                buffer += chunk
                if len(buffer) >= WRITE_CHUNK:
                    await asyncio.to_thread(handle.write, bytes(buffer))
                    buffer.clear()
            if buffer:
                await asyncio.to_thread(handle.write, bytes(buffer))
        finally:
            await asyncio.to_thread(handle.close)
        return filename, size

    async def _keep(self, record: StoredFile, partial: Path) -> None:
        """The complete file under its name, then its record; a file whose record could not be written goes."""
        path = self._layout.upload(record.id)
        await asyncio.to_thread(os.replace, partial, path)
        try:
            await self._store.add_file(record)
        except BaseException:
            await asyncio.to_thread(path.unlink, True)
            raise

    async def settle(self) -> None:
        """Wait (a while) for uploads under way to end and clean up after themselves: before the store closes."""
        try:
            await asyncio.wait_for(self._uploads_settled.wait(), SETTLE_S)
        except TimeoutError:
            _log.warning("%d upload(s) still under way as the service stops", self._uploading)

    async def sweep_orphans(self) -> int:
        """Delete files in the upload folder that have no record (an upload cut short by a crash or a kill).
        Run before the service listens; the number deleted."""
        recorded = {self._layout.upload(file_id).name for file_id in await self._store.file_ids()}

        def sweep() -> int:
            folder = self._layout.uploads
            orphans = [p for p in folder.iterdir() if p.is_file() and p.name not in recorded] if folder.is_dir() else []
            for path in orphans:
                path.unlink(missing_ok=True)
            return len(orphans)

        removed = await asyncio.to_thread(sweep)
        if removed:
            _log.warning("removed %d upload file(s) that have no record (uploads cut short)", removed)
        return removed

    def _check_size(self, size: int, limit: int) -> None:
        if size > limit:
            raise ApiError(
                400,
                f"The file is larger than this service accepts ({self._settings.max_upload_mb:g} MB).",
                code="file_too_large",
                param="file",
            )

    async def get_file(self, request: web.Request) -> web.Response:
        file = await self._store.get_file(request.match_info["id"])
        if file is None:
            raise _not_found("file", request.match_info["id"])
        return web.json_response(file.payload())

    async def delete_file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["id"]
        if not await self._store.delete_file(file_id):
            raise _not_found("file", file_id)
        await asyncio.to_thread(self._layout.upload(file_id).unlink, True)
        return web.json_response({"id": file_id, "object": "file", "deleted": True})

    # ----- jobs -------------------------------------------------------------------------------------------

    async def create_job(self, request: web.Request) -> web.Response:
        raw = await _json_body(request)
        if not isinstance(raw, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        body = cast(Json, raw)
        unknown = sorted(set(body) - JOB_KEYS)
        if unknown:
            raise ApiError(400, f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
        model = body.get("model")
        if not isinstance(model, str) or model not in self._settings.base_models:
            available = ", ".join(sorted(self._settings.base_models)) or "none"
            raise ApiError(
                400,
                f"Model {_shown(model)!r} is not available for fine-tuning here. Available: {available}.",
                code="model_not_available",
                param="model",
            )
        training_file = body.get("training_file")
        if not isinstance(training_file, str) or await self._store.get_file(training_file) is None:
            raise ApiError(400, f"Invalid file ID: {_shown(training_file)}", code="invalid_file", param="training_file")
        if body.get("validation_file") is not None:
            raise ApiError(400, "validation_file is not supported by this training service.", param="validation_file")
        if body.get("integrations"):
            raise ApiError(400, "integrations are not supported by this training service.", param="integrations")
        method, hyper = self._method(body)
        suffix = body.get("suffix")
        if suffix is not None and (not isinstance(suffix, str) or not 1 <= len(suffix) <= 64):
            raise ApiError(400, "suffix must be a string of 1 to 64 characters.", param="suffix")
        metadata = _metadata(body.get("metadata"))
        seed = body.get("seed", self._settings.seed)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 2**31 - 1:
            raise ApiError(400, "seed must be an integer from 0 to 2147483647.", param="seed")
        job = StoredJob(
            id=new_id("ftjob"),
            model=model,
            training_file=training_file,
            method=method,
            hyperparameters=hyper,
            suffix=suffix,
            metadata=metadata,
            seed=seed,
            status="validating_files",
            fine_tuned_model=None,
            error=None,
            created_at=int(time.time()),
            finished_at=None,
            trained_tokens=None,
            attempts=0,
            published=False,
        )
        await self._store.add_job(job)
        await self._store.add_event(job.id, f"Validating training file: {training_file}")
        self._runner.wake()
        return web.json_response(job.payload())

    def _method(self, body: Json) -> tuple[Method, Hyperparameters]:
        """The method type and its hyperparameters with every "auto" resolved to the service's defaults.

        Top-level `hyperparameters` are deprecated but OpenAI still honours them: here too, for either method,
        unless `method` carries hyperparameters of its own (then which to use would be a guess: refused)."""
        method: Any = body.get("method")
        top: Any = body.get("hyperparameters")
        if top is not None and not isinstance(top, dict):
            raise ApiError(400, "hyperparameters must be an object.", param="hyperparameters")
        top = cast(Json, top or {})
        unknown = sorted(set(top) - HYPER_KEYS["supervised"])
        if unknown:
            raise ApiError(400, f"Unknown hyperparameter: {unknown[0]}", param="hyperparameters")
        given: Any
        kind: Method
        if method is None:
            kind, given = "supervised", top
        else:
            if not isinstance(method, dict) or cast(Json, method).get("type") not in METHODS:
                raise ApiError(400, "method.type must be 'supervised' or 'dpo'.", param="method")
            method = cast(Json, method)
            kind = "dpo" if method["type"] == "dpo" else "supervised"
            extra = sorted(set(method) - {"type", kind})
            if extra:
                raise ApiError(400, f"method.{extra[0]} is not supported here.", param="method")
            section: Any = method.get(kind) or {}
            if not isinstance(section, dict):
                raise ApiError(400, f"method.{kind} must be an object.", param="method")
            given = cast(Json, section).get("hyperparameters") or cast(Json, {})
            if given and top:
                raise ApiError(
                    400,
                    f"Give hyperparameters in method.{kind}.hyperparameters or in the deprecated top-level "
                    "hyperparameters, not both.",
                    param="hyperparameters",
                )
            given = given or top
        if not isinstance(given, dict):
            raise ApiError(400, "hyperparameters must be an object.", param="hyperparameters")
        given = cast(Json, given)
        unknown = sorted(set(given) - HYPER_KEYS[kind])
        if unknown:
            raise ApiError(400, f"Unknown hyperparameter for {kind}: {unknown[0]}", param="hyperparameters")
        s = self._settings
        resolved = Hyperparameters(
            n_epochs=_number(given, "n_epochs", s.epochs, kind=int, low=1, high=50),
            batch_size=_number(given, "batch_size", s.batch_size, kind=int, low=1, high=256),
            learning_rate_multiplier=_number(given, "learning_rate_multiplier", 1.0, kind=float, low=1e-3, high=10.0),
            beta=_number(given, "beta", s.dpo_beta, kind=float, low=1e-3, high=2.0) if kind == "dpo" else None,
        )
        return kind, resolved

    async def get_job(self, request: web.Request) -> web.Response:
        return web.json_response((await self._job(request.match_info["id"])).payload())

    async def _job(self, job_id: str) -> StoredJob:
        job = await self._store.get_job(job_id)
        if job is None:
            raise _not_found("job", job_id)
        return job

    async def list_jobs(self, request: web.Request) -> web.Response:
        limit = _limit(request)
        metadata: dict[str, str] = {}
        for key, value in request.query.items():
            match = _METADATA_QUERY.match(key)
            if match:
                metadata[match.group(1)] = value
        jobs, more = await self._store.list_jobs(limit, request.query.get("after"), metadata)
        return web.json_response({"object": "list", "data": [j.payload() for j in jobs], "has_more": more})

    async def cancel_job(self, request: web.Request) -> web.Response:
        job = await self._job(request.match_info["id"])
        if job.finished:
            raise ApiError(400, f"Job {job.id} has already {job.status} and cannot be cancelled.", param="job_id")
        changed = await self._store.update_job(
            job.id,
            status="cancelled",
            finished_at=int(time.time()),
            only_from=ACTIVE,
        )
        if changed:
            await self._runner.cancel(job.id)
            await self._store.add_event(job.id, "Fine-tuning job cancelled")
        return web.json_response((await self._job(job.id)).payload())

    async def list_events(self, request: web.Request) -> web.Response:
        job = await self._job(request.match_info["id"])
        events, more = await self._store.list_events(job.id, _limit(request), request.query.get("after"))
        return web.json_response({"object": "list", "data": events, "has_more": more})


def _hostname(value: str, *, is_url: bool = False) -> str | None:
    """The host name in a Host header (or an Origin URL), lower case, without port, brackets or final dot."""
    try:
        name = urlsplit(value if is_url else f"//{value}").hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    return name.rstrip(".") if name else None


def _content_type(request: web.Request, wanted: str) -> None:
    """Refused as OpenAI refuses it (400, unsupported_content_type). It also keeps web pages out: a page may send
    text/plain or a form to another origin unasked, but not application/json."""
    if request.content_type != wanted:
        given = request.headers.get("Content-Type", "none")
        raise ApiError(
            400,
            f"Unsupported content type {_shown(given)!r}: this endpoint only accepts {wanted}.",
            code="unsupported_content_type",
        )


async def _json_body(request: web.Request) -> Any:
    _content_type(request, "application/json")
    data = await request.read()  # at most client_max_size: larger is a 413
    try:
        return json.loads(data)
    except RecursionError:
        raise ApiError(400, "The request body is not valid JSON: it is nested too deeply.") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"The request body is not valid JSON: {exc.msg} at character {exc.pos}.") from None
    except UnicodeDecodeError:
        raise ApiError(400, "The request body is not valid JSON: it is not UTF-8 text.") from None
    except ValueError:  # an integer with more digits than Python converts (sys.int_max_str_digits)
        raise ApiError(400, "The request body is not valid JSON: a number in it is too long.") from None


async def _field(part: BodyPartReader, name: str) -> str:
    """A short text field, read up to MAX_FIELD_BYTES (aiohttp's own limit is the whole request's size)."""
    data = bytearray()
    while chunk := await part.read_chunk(MAX_FIELD_BYTES + 1):
        data += chunk
        if len(data) > MAX_FIELD_BYTES:
            raise ApiError(400, f"The '{name}' field is longer than {MAX_FIELD_BYTES} bytes.", param=name)
    try:
        return data.decode().strip()
    except UnicodeDecodeError:
        raise ApiError(400, f"The '{name}' field is not UTF-8 text.", param=name) from None


def _shown(value: Any, limit: int = 64) -> str:
    """A request value in a message: text cut short; anything else by its type (never str() of a huge or deeply
    nested value)."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "…"
    return "null" if value is None else type(value).__name__


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "20")
    try:
        limit = int(raw)
    except ValueError:
        raise ApiError(400, "limit must be an integer.", param="limit") from None
    if not 1 <= limit <= 100:
        raise ApiError(400, "limit must be from 1 to 100.", param="limit")
    return limit


def _number(given: Json, key: str, default: float, *, kind: type[int] | type[float], low: float, high: float) -> Any:
    value = given.get(key, "auto")
    if value == "auto":
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        raise ApiError(400, f"{key} must be 'auto' or a {'whole ' if kind is int else ''}number.", param=key)
    if not low <= value <= high:
        raise ApiError(400, f"{key} must be from {low:g} to {high:g}.", param=key)
    return kind(value)


def _metadata(value: Any) -> dict[str, str] | None:
    """OpenAI's rules: at most 16 pairs, keys up to 64 characters, values up to 512, all strings."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ApiError(400, "metadata must be an object of strings.", param="metadata")
    pairs = cast(dict[Any, Any], value)
    if len(pairs) > 16:
        raise ApiError(400, "metadata may hold at most 16 keys.", param="metadata")
    for k, v in pairs.items():
        if not isinstance(k, str) or not isinstance(v, str) or not 0 < len(k) <= 64 or len(v) > 512:
            raise ApiError(
                400, "metadata keys must be strings up to 64 characters, values up to 512.", param="metadata"
            )
    return cast(dict[str, str], pairs)
