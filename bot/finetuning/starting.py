"""Starting a confirmed training job at most once: recorded before anything is sent, tagged, never retried blind."""

from __future__ import annotations

import logging
import uuid

import attrs

from bot.finetuning.awaiting_confirm import PreparedDataset
from bot.finetuning.trainer import (
    Hyperparameters,
    RemoteJob,
    Trainer,
    TrainerAuthFailed,
    TrainerError,
    TrainerNotFound,
    TrainerRateLimited,
    TrainerRejected,
    TrainingRequest,
    upload_name,
)
from bot.i18n import _
from bot.store.jobs import TrainingJob
from bot.store.requests import JobRequest, JobRequestStore, NewJobRequest

_log = logging.getLogger(__name__)


@attrs.frozen
class StartResult:
    request: JobRequest
    # None: the backend did not confirm the start and the job was not found (yet). The job watcher settles the
    # request (follows the job if it turns up, else deletes the upload) and posts the outcome in the channel.
    job: TrainingJob | None


def refused(exc: TrainerError) -> bool:
    """The backend answered and did nothing; anything else (a timeout, a 5xx) may have been carried out."""
    return isinstance(exc, TrainerRejected | TrainerAuthFailed | TrainerRateLimited | TrainerNotFound)


async def delete_upload(trainer: Trainer, requests: JobRequestStore, request_id: int, file_id: str) -> bool:
    try:
        await trainer.delete_upload(file_id)
    except TrainerError as exc:  # kept on the request: the job watcher tries again
        _log.warning("could not delete upload %s of training request #%d: %s", file_id, request_id, exc)
        return False
    await requests.upload_deleted(request_id)
    return True


async def start_training(
    prepared: PreparedDataset,
    *,
    trainer: Trainer,
    requests: JobRequestStore,
    hyperparameters: Hyperparameters,
) -> StartResult:
    """Record the request, upload the dataset under the request's tag, start the job once (tagged), record it.

    Raises the backend's TrainerError when nothing was started; an upload that may exist is left to the watcher."""
    tag = uuid.uuid4().hex
    try:
        request = await requests.add(
            NewJobRequest(
                tag=tag,
                guild_id=prepared.guild_id,
                channel_id=prepared.channel_id,
                requester_id=prepared.requester_id,
                backend=trainer.name,
                base_model=prepared.base_model,
                method=prepared.method,
                suffix=prepared.suffix,
                dataset_sha256=prepared.report.sha256,
                dataset_examples=prepared.report.examples,
            )
        )
        try:
            uploaded = await trainer.upload(prepared.path, upload_name(tag))
        except TrainerError as exc:
            if refused(exc):
                await requests.failed(request.id, str(exc))
            # Otherwise the upload may have arrived though its answer did not: the request stays `uploading`, and
            # the watcher deletes what carries the tag's name once the grace period is over.
            raise
    finally:
        prepared.path.unlink(missing_ok=True)
    if not await requests.uploaded(request.id, uploaded.id):
        # The watcher gave up on this request while the upload ran (longer than the grace period): start nothing.
        await delete_upload(trainer, requests, request.id, uploaded.id)
        raise TrainerError(_("The upload took too long, so no job was started. Try again."))
    wanted = TrainingRequest(uploaded.id, prepared.base_model, prepared.method, prepared.suffix, hyperparameters)
    remote: RemoteJob | None
    try:
        remote = await trainer.start(wanted, tag=tag)
    except TrainerError as exc:
        if refused(exc):
            await requests.failed(request.id, str(exc))
            await delete_upload(trainer, requests, request.id, uploaded.id)
            raise
        _log.warning("training request #%d: the start was not confirmed (%s); looking for its job", request.id, exc)
        remote = await _find(trainer, request)
    if remote is None:
        await requests.unconfirmed(request.id)
        settled = await requests.get(request.id)
        assert settled is not None
        return StartResult(settled, None)
    job = await requests.adopt(request, remote, notice=False)
    settled = await requests.get(request.id)
    assert settled is not None
    return StartResult(settled, job)


async def _find(trainer: Trainer, request: JobRequest) -> RemoteJob | None:
    try:
        return await trainer.find_tagged(request.tag)
    except TrainerError as exc:
        _log.warning("training request #%d: could not look for its job: %s", request.id, exc)
        return None
