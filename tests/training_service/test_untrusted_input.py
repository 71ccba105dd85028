"""The training service against input meant to break it: files that wedged the queue, bodies that are not JSON, web
pages in the operator's browser, uploads cut short. Through the real openai client where it can say it, raw HTTP
otherwise."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

import bot.training_service.job_queue
from bot.training_service.service import TrainerService
from tests.conftest import AllowedErrors
from tests.training_service.service import running_trainer, sft_jsonl, wait_for_job

Json = dict[str, Any]
BOUNDARY = "teachbot-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
FINISHED = ("succeeded", "failed", "cancelled")


@pytest.fixture
async def service(tmp_path: Path, tiny_model: Path) -> AsyncIterator[TrainerService]:
    async with running_trainer(tmp_path / "trainer", {"tiny": str(tiny_model)}) as service:
        yield service


@pytest.fixture
async def client(service: TrainerService) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(api_key="unused", base_url=service.base_url, max_retries=0, timeout=30) as c:
        yield c


async def upload(client: openai.AsyncOpenAI, data: bytes) -> str:
    return (await client.files.create(file=("corrections.jsonl", io.BytesIO(data)), purpose="fine-tune")).id


async def send(
    service: TrainerService, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, Json]:
    """A raw request (what the openai client cannot send); the status and the JSON error or payload."""
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{service.base_url}{path}", data=io.BytesIO(body), headers=headers or {}) as response,
    ):
        return response.status, await response.json()


def multipart(*parts: tuple[str, bytes, str | None], padded: str | None = None) -> bytes:
    """A multipart/form-data body by hand: (field name, content, filename or None) per part; the `padded` field
    gets a header line longer than the service reads."""
    out = b""
    for name, content, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        pad = f"X-Pad: {'p' * 9000}\r\n" if name == padded else ""
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n{pad}\r\n".encode()
        out += content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def files_on_disk(service: TrainerService) -> list[str]:
    folder = service.layout.root / "files"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ----- item 3: one bad training file or request body never stops the service -------------------------------------


async def test_a_file_that_cannot_be_checked_fails_alone_and_the_next_job_trains(
    service: TrainerService, client: openai.AsyncOpenAI, monkeypatch: pytest.MonkeyPatch, allowed_errors: AllowedErrors
) -> None:
    good = sft_jsonl().splitlines(keepends=True)
    wedging = (
        good[0]
        + b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
        + b'{"messages": [{"role": "user", "content": "hi", "weight": 1' + b"0" * 5000 + b"}]}\n"
        + b'{"messages": [{"role": ["user"], "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
    )  # fmt: skip
    wedged = await client.fine_tuning.jobs.create(model="tiny", training_file=await upload(client, wedging))
    # A failure nobody foresaw while checking a file fails that job too, with an id to find it in the log.
    broken_file = await upload(client, sft_jsonl())
    broken_path = service.layout.upload(broken_file)
    check_file = bot.training_service.job_queue.check_file

    def check_or_break(path: Path, method: str) -> int:
        if path == broken_path:
            raise RuntimeError("the disk is on fire")
        return check_file(path, method)

    monkeypatch.setattr(bot.training_service.job_queue, "check_file", check_or_break)
    allowed_errors.expect(r"checking its training file failed \(error id [0-9a-f]{8}\)")
    broken = await client.fine_tuning.jobs.create(model="tiny", training_file=broken_file)
    fine = await client.fine_tuning.jobs.create(
        model="tiny", training_file=await upload(client, sft_jsonl()), hyperparameters={"n_epochs": 1}
    )

    done = await wait_for_job(service, wedged.id, lambda j: j["status"] in FINISHED)
    assert done["status"] == "failed" and done["error"]["code"] == "invalid_training_file", done["error"]
    message = done["error"]["message"]
    assert "line 2: the JSON is nested too deeply" in message
    assert "line 3: the JSON holds a number too large to read" in message
    assert "line 4: messages[0] has role a list or object" in message
    assert "line 1" not in message and "Traceback" not in message
    done = await wait_for_job(service, broken.id, lambda j: j["status"] in FINISHED)
    assert done["status"] == "failed" and "error id" in done["error"]["message"]
    assert "fire" not in done["error"]["message"]
    done = await wait_for_job(service, fine.id, lambda j: j["status"] in FINISHED)
    assert done["status"] == "succeeded", done["error"]


async def test_a_body_that_is_not_json_gets_400_with_a_reason(service: TrainerService) -> None:
    json_type = {"Content-Type": "application/json"}
    for body, reason in (
        (b'{"model": "tiny", ', "Expecting property name"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"model": "tiny", "seed": 1' + b"0" * 5000 + b"}", "too long"),
        (b'{"model": "\xff"}', "not UTF-8"),
    ):
        status, payload = await send(service, "POST", "/fine_tuning/jobs", body, json_type)
        assert status == 400, (reason, payload)
        assert payload["error"]["type"] == "invalid_request_error"
        assert payload["error"]["message"].startswith("The request body is not valid JSON")
        assert reason in payload["error"]["message"]
    assert (await service.store.list_jobs(10))[0] == []


# ----- item 4: a web page cannot drive the keyless service -------------------------------------------------------


async def test_without_a_key_only_requests_naming_this_machine_are_answered(
    service: TrainerService, client: openai.AsyncOpenAI
) -> None:
    job = await client.fine_tuning.jobs.create(model="tiny", training_file=await upload(client, b"not json\n"))
    await wait_for_job(service, job.id, lambda j: j["status"] == "failed")
    # DNS rebinding: evil.example resolves to 127.0.0.1, and the browser names it in Host.
    with pytest.raises(openai.PermissionDeniedError) as refused:
        await client.fine_tuning.jobs.list(extra_headers={"Host": "evil.example"})
    assert refused.value.status_code == 403 and refused.value.code == "host_not_allowed"
    for host in ("evil.example", f"evil.example:{service.port}", "127.0.0.1.evil.example", "[::2]"):
        status, payload = await send(service, "GET", f"/fine_tuning/jobs/{job.id}", headers={"Host": host})
        assert (status, payload["error"]["code"]) == (403, "host_not_allowed"), host
    cancel = f"/fine_tuning/jobs/{job.id}/cancel"
    status, payload = await send(service, "POST", cancel, headers={"Host": "evil.example"})
    assert (status, payload["error"]["code"]) == (403, "host_not_allowed")
    for host in (f"localhost:{service.port}", "127.0.0.1", "127.5.5.5", f"[::1]:{service.port}", "LOCALHOST."):
        status, payload = await send(service, "GET", f"/fine_tuning/jobs/{job.id}", headers={"Host": host})
        assert (status, payload["id"]) == (200, job.id), host

    # A page on any origin (even one on the same name) can send a form or text/plain unasked: its Origin gives it away.
    page = {"Origin": "http://evil.example", "Content-Type": MULTIPART}
    form = multipart(("purpose", b"fine-tune", None), ("file", sft_jsonl(), "x.jsonl"))
    status, payload = await send(service, "POST", "/files", form, page)
    assert (status, payload["error"]["code"]) == (403, "origin_not_allowed")
    for origin in ("null", "http://evil.example:8600", "https://127.0.0.1.evil.example"):
        status, payload = await send(service, "GET", "/fine_tuning/jobs", headers={"Origin": origin})
        assert (status, payload["error"]["code"]) == (403, "origin_not_allowed"), origin
    status, payload = await send(service, "POST", cancel, headers={"Origin": "http://evil.example"})
    assert (status, payload["error"]["code"]) == (403, "origin_not_allowed")
    assert files_on_disk(service) == [f"{job.training_file}.jsonl"]


async def test_configured_host_names_are_answered_and_with_a_key_the_key_is_the_guard(
    tmp_path: Path, tiny_model: Path
) -> None:
    models = {"tiny": str(tiny_model)}
    async with running_trainer(tmp_path / "named", models, allowed_hosts=("Trainer.Internal",)) as service:
        assert (await send(service, "GET", "/fine_tuning/jobs", headers={"Host": "trainer.internal:8600"}))[0] == 200
        assert (await send(service, "GET", "/fine_tuning/jobs", headers={"Host": "evil.example"}))[0] == 403
    # With TRAINER_API_KEY set, a page can know neither the key nor send it across origins: any name is answered.
    async with (
        running_trainer(tmp_path / "keyed", models, api_key="s3cret") as service,
        openai.AsyncOpenAI(api_key="s3cret", base_url=service.base_url, max_retries=0) as client,
    ):
        listed = await client.fine_tuning.jobs.list(extra_headers={"Host": "trainer.example"})
        assert listed.data == []
        status, payload = await send(service, "GET", "/fine_tuning/jobs", headers={"Host": "evil.example"})
        assert (status, payload["error"]["code"]) == (401, "invalid_api_key")


async def test_a_job_request_that_is_not_application_json_is_refused(
    service: TrainerService, client: openai.AsyncOpenAI
) -> None:
    file_id = await upload(client, b"not json\n")
    body = json.dumps({"model": "tiny", "training_file": file_id}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", MULTIPART):
        status, payload = await send(service, "POST", "/fine_tuning/jobs", body, {"Content-Type": content_type})
        assert status == 400 and payload["error"]["code"] == "unsupported_content_type", content_type
        assert "application/json" in payload["error"]["message"]
    status, payload = await send(service, "POST", "/files", body, {"Content-Type": "text/plain"})
    assert status == 400 and payload["error"]["code"] == "unsupported_content_type"
    assert (await client.fine_tuning.jobs.list()).data == []
    # The same body as application/json (what the openai client sends) is taken.
    status, payload = await send(service, "POST", "/fine_tuning/jobs", body, {"Content-Type": "application/json"})
    assert status == 200 and payload["status"] == "validating_files"


# ----- item 5: uploads that fail leave nothing behind ------------------------------------------------------------


async def test_an_upload_that_fails_leaves_no_file(service: TrainerService) -> None:
    data = sft_jsonl()
    for body, reason in (
        (multipart(("purpose", b"fine-tune", None), ("file", data, "a.jsonl"), ("file", data, "b.jsonl")), "one file"),
        (multipart(("file", data, "a.jsonl"), ("purpose", b"x" * (1024 * 1024 + 1), None)), "longer than"),
        (multipart(("file", data, "a.jsonl"), ("purpose", b"fine-tune", None), padded="purpose"), "cut short"),
        (multipart(("file", data, "a.jsonl"), ("purpose", b"assistants", None)), "purpose"),
        (multipart(("purpose", b"fine-tune", None)), "Missing the 'file'"),
    ):  # fmt: skip
        status, payload = await send(service, "POST", "/files", body, {"Content-Type": MULTIPART})
        assert status == 400 and reason in payload["error"]["message"], payload
        assert files_on_disk(service) == [], reason


async def test_a_client_that_disconnects_mid_upload_leaves_no_file(
    tmp_path: Path, tiny_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.training_service.api")
    async with running_trainer(tmp_path, {"tiny": str(tiny_model)}) as service:
        complete = multipart(("file", sft_jsonl(), "a.jsonl"), ("purpose", b"fine-tune", None))
        sent = complete[: complete.index(b"fine-tune") + 4]  # the whole file, then the client is gone
        reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
        writer.write(
            f"POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {MULTIPART}\r\n"
            f"Content-Length: {len(complete)}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        await writer.drain()
        # The service is reading this upload now.
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 100 Continue")
        writer.write(sent)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    # Stopping waits for uploads under way to end and clean up; the service saw this one end early.
    assert [r.getMessage() for r in caplog.records if "abandoned" in r.getMessage()]
    assert not (tmp_path / "files").exists() or list((tmp_path / "files").iterdir()) == []


async def test_upload_files_without_a_record_are_swept_at_start(tmp_path: Path, tiny_model: Path) -> None:
    models = {"tiny": str(tiny_model)}
    async with (
        running_trainer(tmp_path, models) as service,
        openai.AsyncOpenAI(api_key="x", base_url=service.base_url, max_retries=0) as client,
    ):
        kept = await upload(client, sft_jsonl())
    # Left by a crash or a kill mid-upload, or between writing a file and its record.
    (tmp_path / "files" / "file-0123456789abcdef01234567.jsonl.part").write_bytes(b"half")
    (tmp_path / "files" / "file-89abcdef0123456701234567.jsonl").write_bytes(b"no record")
    async with (
        running_trainer(tmp_path, models) as service,
        openai.AsyncOpenAI(api_key="x", base_url=service.base_url, max_retries=0) as client,
    ):
        assert files_on_disk(service) == [f"{kept}.jsonl"]
        assert (await client.files.retrieve(kept)).bytes == len(sft_jsonl())
