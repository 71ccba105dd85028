"""The job queue: validates files, trains one job at a time (per GPU) in a child process, records its events,
publishes the adapter, and survives restarts (a job that was running starts again from the beginning)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.context
import re
import secrets
import shutil
import signal
import threading
import time
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, cast

import attrs

from bot.job_status import ACTIVE
from bot.training_service.config import TrainerSettings
from bot.training_service.job_spec import JobSpec
from bot.training_service.publish import Publisher, PublishError
from bot.training_service.store import StoredJob, TrainerStore
from bot.training_service.training_rows import DatasetProblem, check_file

_log = logging.getLogger(__name__)
Json = dict[str, Any]

# A job interrupted this often by restarts is not started again (it may be what brings the service down).
MAX_ATTEMPTS = 3
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def model_name(base: str, suffix: str | None, job_id: str) -> str:
    """`ft:<base>:<suffix>:<id>`, each part limited to letters, digits, `.`, `_` and `-`."""

    def clean(part: str, limit: int) -> str:
        return _UNSAFE.sub("-", part).strip("-")[:limit]

    return f"ft:{clean(base, 64)}:{clean(suffix or '', 64)}:{job_id.removeprefix('ftjob-')}"


@attrs.frozen
class Layout:
    """Where the service keeps things under its data directory. Names below it are generated ids only."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "trainer.sqlite3"

    @property
    def uploads(self) -> Path:
        return self.root / "files"

    def upload(self, file_id: str) -> Path:
        return self.uploads / f"{file_id}.jsonl"

    def upload_partial(self, file_id: str) -> Path:
        """Where an upload is written until it is complete and recorded (swept at start if it never was)."""
        return self.uploads / f"{file_id}.jsonl.part"

    def work(self, job_id: str) -> Path:
        return self.root / "work" / job_id

    def adapter(self, job_id: str) -> Path:
        return self.root / "adapters" / job_id

    def log(self, job_id: str) -> Path:
        return self.root / "logs" / f"{job_id}.log"


@attrs.define
class _Running:
    job_id: str
    process: BaseProcess | None = None
    task: asyncio.Task[None] | None = None
    cancelled: bool = False


def _context() -> multiprocessing.context.ForkServerContext:
    """Jobs are forked from a server process that imported torch, transformers and TRL once: a fresh process per
    job (killable, isolated from the service), without 10+ s of imports each time."""
    from bot.training_service.worker import PRELOAD

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def _warm_fork_server() -> None:
    _context()
    forkserver.ensure_running()


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        sig = -exitcode
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        if sig == signal.SIGKILL:
            return (
                "The training process was killed (SIGKILL), most likely because the machine ran out of memory. "
                "Try a smaller batch_size or a smaller base model."
            )
        return f"The training process was stopped by a signal ({name})."
    return f"The training process ended unexpectedly (exit code {exitcode}); the training service's log has details."


class JobRunner:
    def __init__(
        self, settings: TrainerSettings, store: TrainerStore, layout: Layout, publisher: Publisher | None
    ) -> None:
        self._settings = settings
        self._store = store
        self._layout = layout
        self._publisher = publisher
        self._running: dict[str, _Running] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._warming: asyncio.Future[None] | None = None

    # ----- lifecycle --------------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._recover()
        loop = asyncio.get_running_loop()
        # Import torch and TRL in the fork server now, not when the first job arrives (runs in a thread: ~10 s).
        self._warming = loop.run_in_executor(None, _warm_fork_server)
        self._tasks.append(loop.create_task(self._schedule(), name="trainer scheduler"))
        if self._publisher is not None:
            self._tasks.append(loop.create_task(self._sync_forever(), name="trainer adapter sync"))

    async def stop(self) -> None:
        """Stop scheduling and end running jobs' processes; those jobs start again at the next start."""
        self._stopping = True
        if self._warming is not None:
            await self._warming
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*(self._end_process(r) for r in list(self._running.values())))
        for running in list(self._running.values()):
            if running.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await running.task

    def wake(self) -> None:
        self._wake.set()

    def child_pid(self, job_id: str) -> int | None:
        """The process training this job now (for operators and tests)."""
        running = self._running.get(job_id)
        return None if running is None or running.process is None else running.process.pid

    async def _recover(self) -> None:
        for job in await self._store.jobs_with_status("running"):
            if job.attempts >= MAX_ATTEMPTS:
                await self._fail(
                    job.id,
                    f"The job was interrupted {job.attempts} times by restarts of the training service; "
                    "it was not started again.",
                )
                continue
            await self._store.update_job(job.id, status="queued")
            await self._store.add_event(
                job.id,
                "The training service restarted while this job ran; it starts again from the beginning.",
                level="warn",
            )
            _log.warning("job %s was running when the service stopped; queued again", job.id)

    # ----- scheduling -------------------------------------------------------------------------------------

    async def _schedule(self) -> None:
        while True:
            self._wake.clear()
            try:
                for job in await self._store.jobs_with_status("validating_files"):
                    await self._validate_or_fail(job)
                queued = await self._store.jobs_with_status("queued")
                for job in queued:
                    if len(self._running) >= self._settings.concurrency:
                        break
                    if job.id not in self._running:
                        running = _Running(job.id)
                        self._running[job.id] = running
                        running.task = asyncio.get_running_loop().create_task(
                            self._run(job, running), name=f"trainer job {job.id}"
                        )
            except Exception:
                _log.exception("trainer scheduler round failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 5.0)
                continue
            await self._wake.wait()

    async def _validate_or_fail(self, job: StoredJob) -> None:
        """Whatever goes wrong while checking one job's file fails that job, with a reason; the queue moves on.
        (Left to the round's retry, one such file would be checked again every few seconds, for ever.)"""
        try:
            await self._validate(job)
        except Exception:
            ident = secrets.token_hex(4)
            _log.exception("job %s: checking its training file failed (error id %s)", job.id, ident)
            await self._fail(
                job.id,
                f"The training service could not check the training file (error id {ident}).",
                code="invalid_training_file",
                param="training_file",
            )

    async def _validate(self, job: StoredJob) -> None:
        path = self._layout.upload(job.training_file)
        try:
            examples = await asyncio.to_thread(check_file, path, job.method)
        except DatasetProblem as exc:
            await self._fail(job.id, str(exc), code="invalid_training_file", param="training_file")
            return
        except OSError:
            await self._fail(job.id, "The training file was deleted before the job started.", code="invalid_file")
            return
        if await self._store.update_job(job.id, status="queued", only_from=("validating_files",)):
            await self._store.add_event(job.id, f"Files validated ({examples} examples), moving job to queued state")

    async def _fail(
        self, job_id: str, message: str, *, code: str = "training_failed", param: str | None = None
    ) -> None:
        error = {"code": code, "message": message, "param": param}
        changed = await self._store.update_job(
            job_id,
            status="failed",
            error=error,
            finished_at=int(time.time()),
            only_from=ACTIVE,
        )
        if changed:
            await self._store.add_event(job_id, message, level="error")

    # ----- cancelling -------------------------------------------------------------------------------------

    async def cancel(self, job_id: str) -> None:
        """After the job was marked cancelled: stop its process, if it has one (SIGTERM, then SIGKILL)."""
        running = self._running.get(job_id)
        if running is not None:
            running.cancelled = True
            await self._end_process(running)
            if running.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await running.task
        self.wake()

    async def _end_process(self, running: _Running) -> None:
        process = running.process
        if process is None or process.exitcode is not None:
            return
        with contextlib.suppress(ProcessLookupError, ValueError):
            process.terminate()
        await asyncio.to_thread(process.join, self._settings.cancel_grace_s)
        if process.exitcode is None:
            _log.warning("job %s: process %s ignored SIGTERM; killing it", running.job_id, process.pid)
            with contextlib.suppress(ProcessLookupError, ValueError):
                process.kill()
            await asyncio.to_thread(process.join, 10.0)

    # ----- one job ----------------------------------------------------------------------------------------

    async def _run(self, job: StoredJob, running: _Running) -> None:
        try:
            await self._run_unguarded(job, running)
        except Exception:
            ident = secrets.token_hex(4)
            _log.exception("job %s: the runner failed (error id %s)", job.id, ident)
            await self._fail(job.id, f"The training service had an internal error running {job.id} (error id {ident}).")
        finally:
            self._running.pop(job.id, None)
            self.wake()

    def _model_path(self, job: StoredJob) -> str | None:
        path = self._settings.base_models.get(job.model)
        if path is None:
            return None
        if path.startswith(("/", "./", "../", "~")):
            local = Path(path).expanduser()
            return str(local) if local.is_dir() else None
        return path  # a hub id (downloaded by the child) or a directory relative to the working directory

    async def _run_unguarded(self, job: StoredJob, running: _Running) -> None:
        model_path = await asyncio.to_thread(self._model_path, job)
        if model_path is None:
            await self._fail(
                job.id,
                f"The base model {job.model!r} is not available on the training service (its configured location "
                "does not exist). An operator needs to check base_models in trainer.toml.",
                code="model_not_available",
            )
            return
        attempt = job.attempts + 1
        if not await self._store.update_job(job.id, status="running", attempts=attempt, only_from=("queued",)):
            return  # cancelled meanwhile
        await self._store.add_event(job.id, "Fine-tuning job started")
        work = self._layout.work(job.id)
        await asyncio.to_thread(_fresh_dir, work)
        hyper = job.hyperparameters
        s = self._settings
        spec = JobSpec(
            job_id=job.id,
            method=job.method,
            model_name=job.model,
            model_path=model_path,
            train_file=str(self._layout.upload(job.training_file)),
            work_dir=str(work / "trainer"),
            output_dir=str(work / "adapter"),
            log_path=str(self._layout.log(job.id)),
            epochs=hyper.n_epochs,
            batch_size=hyper.batch_size,
            learning_rate=s.learning_rate * hyper.learning_rate_multiplier,
            beta=s.dpo_beta if hyper.beta is None else hyper.beta,
            lora_rank=s.lora_rank,
            lora_alpha=s.lora_alpha,
            lora_dropout=s.lora_dropout,
            max_length=s.max_length,
            seed=job.seed,
            device=s.device,
            cpu_threads=s.cpu_threads,
        )
        final = await self._train(spec, running)
        if running.cancelled:
            await asyncio.to_thread(shutil.rmtree, work, True)
            return
        if self._stopping and final is None:
            return  # the service is stopping: the job stays "running" and is queued again at the next start
        if final is None or final.get("kind") != "done":
            reason = (
                str(final["message"])
                if final
                else _exit_reason(None if running.process is None else running.process.exitcode)
            )
            await self._fail(job.id, reason)
            await asyncio.to_thread(shutil.rmtree, work, True)
            return
        await self._succeed(job, final, work)

    async def _train(self, spec: JobSpec, running: _Running) -> Json | None:
        """Run the child; relay its events; returns its last word (`done` / `failed`), None if it died silently."""
        from bot.training_service.worker import run_job

        ctx = _context()
        receive, send = ctx.Pipe(duplex=False)
        process = ctx.Process(target=run_job, args=(spec, send), name=f"trainer-{spec.job_id}")
        # Starting the fork server the first time imports torch there: never on the event loop.
        await asyncio.to_thread(process.start)
        send.close()
        running.process = process
        if running.cancelled or self._stopping:  # asked to stop while the process was starting
            await self._end_process(running)
        _log.info("job %s: training in process %s", spec.job_id, process.pid)
        loop = asyncio.get_running_loop()
        messages: asyncio.Queue[Json | None] = asyncio.Queue()
        threading.Thread(
            target=_relay, args=(receive, loop, messages), name=f"trainer-pipe-{spec.job_id}", daemon=True
        ).start()
        final: Json | None = None
        while (message := await messages.get()) is not None:
            if message.get("kind") == "event":
                if not running.cancelled:
                    await self._store.add_event(
                        spec.job_id,
                        str(message["message"]),
                        level=str(message.get("level", "info")),
                        kind=str(message.get("type", "message")),
                        data=message.get("data") or None,
                    )
            else:
                final = message
        await asyncio.to_thread(process.join, 30.0)
        return final

    async def _succeed(self, job: StoredJob, final: Json, work: Path) -> None:
        target = self._layout.adapter(job.id)
        await asyncio.to_thread(_move, work / "adapter", target)
        await asyncio.to_thread(shutil.rmtree, work, True)
        name = model_name(job.model, job.suffix, job.id)
        # Published before the job reads as succeeded, so that a client told "succeeded" can switch to the model at
        # once (a merge for a CPU server takes a while); a publish that fails does not fail the job: it is retried.
        published = await self._publish(job.id, name)
        changed = await self._store.update_job(
            job.id,
            status="succeeded",
            fine_tuned_model=name,
            trained_tokens=int(final.get("trained_tokens") or 0),
            finished_at=int(time.time()),
            published=int(published is True),
            only_from=("running",),
        )
        if not changed:
            return
        await self._store.add_event(job.id, f"New fine-tuned model created: {name}")
        if published is True:
            await self._store.add_event(job.id, f"The inference server now serves {name}")
        elif published is not None:
            await self._store.add_event(
                job.id,
                f"The inference server did not take the model yet ({published}); the service will retry.",
                level="warn",
            )
        await self._store.add_event(job.id, "The job has successfully completed")

    # ----- publishing -------------------------------------------------------------------------------------

    async def _publish(self, job_id: str, name: str) -> PublishError | bool | None:
        """True when the inference server now serves `name`, the reason when it did not, None without a server."""
        if self._publisher is None:
            return None
        try:
            await self._publisher.load(name, job_id)
        except PublishError as exc:
            return exc
        return True

    async def sync_adapters(self) -> list[str]:
        """Load every succeeded job's adapter the inference server lacks (after its restart); the names loaded."""
        if self._publisher is None:
            return []
        jobs = [j for j in await self._store.jobs_with_status("succeeded") if j.fine_tuned_model]
        if not jobs:
            return []
        loaded = await self._publisher.sync({j.fine_tuned_model: j.id for j in jobs if j.fine_tuned_model})
        for job in jobs:
            if job.fine_tuned_model in loaded and not job.published:
                await self._store.update_job(job.id, published=1)
                await self._store.add_event(job.id, f"The inference server now serves {job.fine_tuned_model}")
        return loaded

    async def _sync_forever(self) -> None:
        interval = self._settings.publish.sync_interval_s
        while True:
            try:
                loaded = await self.sync_adapters()
                if loaded:
                    _log.info("loaded %d adapter(s) the inference server was missing", len(loaded))
            except PublishError as exc:
                _log.warning("could not check the inference server's adapters: %s", exc)
            except Exception:
                _log.exception("adapter sync failed")
            await asyncio.sleep(interval)


def _relay(conn: Connection, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Json | None]) -> None:
    """Pipe -> event loop. Ends (with None) when the child closed its end or died."""
    try:
        while True:
            try:
                message: Any = conn.recv()
            except (EOFError, OSError):
                break
            if isinstance(message, dict):
                loop.call_soon_threadsafe(queue.put_nowait, cast(Json, message))
    finally:
        conn.close()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(queue.put_nowait, None)


def _fresh_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


def _move(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    source.rename(target)
