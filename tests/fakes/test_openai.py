"""The fake OpenAI speaks the API the real `openai` client expects: every endpoint is driven by that client."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from PIL import Image

from tests.fakes.openai import Deltas, FakeOpenAI

BASE = "gpt-4o-mini-2024-07-18"  # a base model OpenAI fine-tunes
SFT = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=2, timeout=5) as c:
        yield c


async def test_chat_plain_and_streamed_with_usage(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.reply("Paris.")
    plain = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "capital?"}]
    )
    assert plain.choices[0].message.content == "Paris."
    assert plain.usage is not None and plain.usage.completion_tokens > 0
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    async for chunk in stream:
        text += "".join(c.delta.content or "" for c in chunk.choices)
        usage = chunk.usage or usage
    assert text == "Answer to: hi"
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert [r["model"] for r in fake.chat_requests] == ["gpt-4o-mini", "gpt-4o-mini"]


async def test_files_and_fine_tuning_jobs(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    uploaded = await client.files.create(file=("train.jsonl", io.BytesIO(b'{"messages": []}\n')), purpose="fine-tune")
    assert uploaded.bytes == 17
    jobs = [
        await client.fine_tuning.jobs.create(
            model="gpt-4o-mini-2024-07-18",
            training_file=uploaded.id,
            suffix=f"s{i}",
            method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}},
        )
        for i in range(3)
    ]
    assert jobs[0].status == "validating_files" and jobs[0].method is not None and jobs[0].method.type == "dpo"
    first = await client.fine_tuning.jobs.list(limit=2)
    assert len(first.data) == 2 and first.has_more
    rest = await client.fine_tuning.jobs.list(limit=2, after=first.data[-1].id)
    assert len(rest.data) == 1 and not rest.has_more
    fake.advance(jobs[0].id, "running", steps=4)
    fake.advance(jobs[0].id, "succeeded")
    done = await client.fine_tuning.jobs.retrieve(jobs[0].id)
    assert done.status == "succeeded" and done.fine_tuned_model and done.fine_tuned_model.startswith("ft:")
    events = await client.fine_tuning.jobs.list_events(jobs[0].id, limit=100)
    metrics = [e for e in events.data if e.type == "metrics"]
    assert len(metrics) == 4
    cancelled = await client.fine_tuning.jobs.cancel(jobs[1].id)
    assert cancelled.status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        await client.fine_tuning.jobs.create(model=BASE, training_file="file-missing")


async def test_speech_returns_audio(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    speech = await client.audio.speech.create(model="tts-1", voice="alloy", input="hello there", response_format="wav")
    data = speech.read()
    assert data[:4] == b"RIFF" and len(data) > 10_000
    assert fake.speech_requests[0]["input"] == "hello there"


async def test_faults_429_is_retried_500_persists_and_slow_responses_time_out(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.fail_next(429, retry_after=0.01)
    ok = await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert ok.choices[0].message.content == "Answer to: x"
    fake.fail_next(500, times=3)
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    fake.delay_next(2.0, times=3)
    with pytest.raises(openai.APITimeoutError):
        await client.with_options(timeout=0.2, max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )


async def test_job_metadata_is_kept_filtered_on_and_limited_as_openai_does(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    uploaded = await client.files.create(file=("t.jsonl", io.BytesIO(b'{"messages": []}\n')), purpose="fine-tune")
    tagged = await client.fine_tuning.jobs.create(model=BASE, training_file=uploaded.id, metadata={"req": "a"})
    await client.fine_tuning.jobs.create(model=BASE, training_file=uploaded.id, metadata={"req": "b"})
    await client.fine_tuning.jobs.create(model=BASE, training_file=uploaded.id)
    assert tagged.metadata == {"req": "a"}
    assert (await client.fine_tuning.jobs.retrieve(tagged.id)).metadata == {"req": "a"}
    found = await client.fine_tuning.jobs.list(metadata={"req": "a"})
    assert [j.id for j in found.data] == [tagged.id] and not found.has_more
    assert (await client.fine_tuning.jobs.list(metadata={"req": "zzz"})).data == []
    assert len((await client.fine_tuning.jobs.list()).data) == 3
    for bad in ({f"k{i}": "v" for i in range(17)}, {"k" * 65: "v"}, {"k": "v" * 513}):
        with pytest.raises(openai.BadRequestError):
            await client.fine_tuning.jobs.create(model=BASE, training_file=uploaded.id, metadata=bad)
    assert len(fake.jobs) == 3  # a refused job is not created


async def test_files_are_listed_newest_first_and_deleted(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    ids = [
        (await client.files.create(file=(f"f{i}.jsonl", io.BytesIO(b"{}\n")), purpose="fine-tune")).id for i in range(3)
    ]
    await client.files.create(file=("other.jsonl", io.BytesIO(b"{}\n")), purpose="batch")
    first = await client.files.list(purpose="fine-tune", limit=2)
    assert [f.id for f in first.data] == ids[::-1][:2] and first.has_more
    assert [f.filename async for f in client.files.list(purpose="fine-tune", limit=2)] == [
        "f2.jsonl",
        "f1.jsonl",
        "f0.jsonl",
    ]
    deleted = await client.files.delete(ids[0])
    assert (deleted.id, deleted.deleted) == (ids[0], True) and ids[0] not in fake.files
    with pytest.raises(openai.NotFoundError):
        await client.files.delete(ids[0])


async def test_a_slow_response_arrives_after_the_job_was_created(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    uploaded = await client.files.create(file=("t.jsonl", io.BytesIO(b'{"messages": []}\n')), purpose="fine-tune")
    fake.slow_next("POST", "/fine_tuning/jobs", seconds=0.6)
    with pytest.raises(openai.APITimeoutError):
        await client.with_options(timeout=0.2, max_retries=0).fine_tuning.jobs.create(
            model=BASE, training_file=uploaded.id, metadata={"req": "x"}
        )
    assert fake.jobs_tagged("req", "x") == list(fake.jobs)  # the job exists though the client never heard of it
    assert len(fake.jobs) == 1


def _png_data_url() -> str:
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


async def test_image_parts_are_recorded_and_malformed_ones_refused_as_openai_does(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    def ask(url: str, role: str = "user") -> Any:
        content = [{"type": "text", "text": "what?"}, {"type": "image_url", "image_url": {"url": url}}]
        return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": role, "content": content}])  # type: ignore[misc,list-item]

    good = _png_data_url()
    await ask(good)
    assert fake.image_parts() == [{"type": "image_url", "image_url": {"url": good}}]
    await ask("https://cdn.example/cat.png")
    bad = [
        "ftp://cdn.example/cat.png",
        "data:text/plain;base64,aGk=",
        "data:image/png;base64,bm90IGFuIGltYWdl",
        "data:image/png;base64,%%%",
    ]
    for url in bad:
        with pytest.raises(openai.BadRequestError) as refused:
            await ask(url)
        error = refused.value.body
        assert isinstance(error, dict) and error["type"] == "invalid_request_error"  # the client unwraps "error"
        assert str(error["param"]).endswith("image_url.url")
    with pytest.raises(openai.BadRequestError):
        await ask(good, role="system")
    fake.vision_models = {"gpt-4o"}
    with pytest.raises(openai.BadRequestError, match="only supported by certain models"):
        await ask(good)
    assert len(fake.chat_requests) == 2


async def test_streamed_deltas_carry_reasoning_content_and_split_think_tags(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.reply(Deltas([{"reasoning_content": "hmm"}, {"content": "<th"}, {"content": "ink>x</think>Yes."}]))
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "?"}], stream=True
    )
    contents, reasoning = [], []
    async for chunk in stream:
        for choice in chunk.choices:
            contents.append(choice.delta.content or "")
            reasoning.append((choice.delta.model_extra or {}).get("reasoning_content") or "")
    assert "".join(reasoning) == "hmm"
    assert [c for c in contents if c] == ["<th", "ink>x</think>Yes."]


def refusal(exc: openai.APIStatusError) -> tuple[int, Any]:
    """The status and the `error` object of an answer, as the client raised it."""
    return exc.status_code, exc.body


def invalid(message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"message": message, "type": "invalid_request_error", "param": param, "code": code}


async def test_a_fine_tuning_upload_needs_a_purpose_and_jsonl_lines_as_openai_checks(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    async def upload(name: str, data: bytes, purpose: Any = "fine-tune") -> Any:
        return await client.files.create(file=(name, io.BytesIO(data)), purpose=purpose)

    cases: list[tuple[str, bytes, Any, dict[str, Any]]] = [
        ("t.jsonl", SFT, openai.omit, invalid("'purpose' is a required property")),
        (
            "t.jsonl",
            SFT,
            "answers",
            invalid(
                "'answers' is not one of ['fine-tune', 'assistants', 'batch', 'user_data', 'responses', 'vision', "
                "'evals'] - 'purpose'"
            ),
        ),
        (
            "t.csv",
            b"question,answer\nq,a\n",
            "fine-tune",
            invalid("Invalid file format for Fine-Tuning API. Must be .jsonl"),
        ),
        (
            "t.jsonl",
            SFT + b"[1, 2]\n" + SFT,
            "fine-tune",
            invalid(
                "Expected file to have JSONL format, where every line is a valid JSON dictionary. "
                'Line 2 is not a dictionary (HINT: line starts with: "[1,...").'
            ),
        ),
        (
            "t.jsonl",
            SFT * 2 + b'{"messages": [\n',
            "fine-tune",
            invalid(
                "Expected file to have JSONL format, where every line is a valid JSON dictionary. "
                'Line 3 is not a dictionary (HINT: line starts with: "{"m...").'
            ),
        ),
    ]
    for name, data, purpose, error in cases:
        with pytest.raises(openai.BadRequestError) as refused:
            await upload(name, data, purpose)
        assert refusal(refused.value) == (400, error), name
    assert fake.files == {}  # nothing refused is stored
    # Exactly what OpenAI takes: JSON objects line by line (a blank line between them and no final newline are fine),
    # and files of other kinds for other purposes.
    taken = await upload("t.jsonl", SFT + b"\n" + SFT.rstrip(b"\n"))
    other = await upload("notes.txt", b"not json", "assistants")
    assert (taken.purpose, other.purpose) == ("fine-tune", "assistants") and set(fake.files) == {taken.id, other.id}


async def test_a_job_is_refused_for_an_unknown_model_a_suffix_over_64_or_n_epochs_outside_1_to_50(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    uploaded = await client.files.create(file=("t.jsonl", io.BytesIO(SFT)), purpose="fine-tune")

    async def create(**args: Any) -> Any:
        return await client.fine_tuning.jobs.create(**{"model": BASE, "training_file": uploaded.id, **args})

    def supervised(**hyper: Any) -> Any:
        return {"type": "supervised", "supervised": {"hyperparameters": hyper}}

    def epochs(param: str, value: int) -> dict[str, Any]:
        above = value > 50
        return invalid(
            f"Invalid '{param}': integer {'above maximum' if above else 'below minimum'} value. Expected a value "
            f"{'<= 50' if above else '>= 1'}, but got {value} instead.",
            param,
            "integer_above_max_value" if above else "integer_below_min_value",
        )

    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        (
            {"model": "gpt-4o-mini"},
            invalid(
                "Model gpt-4o-mini is not available for fine-tuning or does not exist.", "model", "model_not_available"
            ),
        ),
        (
            {"suffix": "s" * 65},
            invalid(
                "Invalid 'suffix': string too long. Expected a string with maximum length 64, but got a string with "
                "length 65 instead.",
                "suffix",
                "string_above_max_length",
            ),
        ),
        ({"method": supervised(n_epochs=0)}, epochs("method.supervised.hyperparameters.n_epochs", 0)),
        ({"method": supervised(n_epochs=51)}, epochs("method.supervised.hyperparameters.n_epochs", 51)),
        (
            {"method": {"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 51, "beta": 0.1}}}},
            epochs("method.dpo.hyperparameters.n_epochs", 51),
        ),
        ({"hyperparameters": {"n_epochs": 0}}, epochs("hyperparameters.n_epochs", 0)),
        ({"hyperparameters": {"n_epochs": 51}}, epochs("hyperparameters.n_epochs", 51)),
    ]
    for args, error in cases:
        with pytest.raises(openai.BadRequestError) as refused:
            await create(**args)
        assert refusal(refused.value) == (400, error), args
    assert fake.jobs == {}  # a refused job is not created
    # Exactly at each limit, the job is made.
    at_limits = [
        await create(suffix="s" * 64),
        await create(method=supervised(n_epochs=1)),
        await create(method=supervised(n_epochs=50)),
        await create(hyperparameters={"n_epochs": 50}),
    ]
    assert len(fake.jobs) == len(at_limits) and at_limits[0].user_provided_suffix == "s" * 64
    # A model this account fine-tuned may be fine-tuned again; a made-up one may not.
    tuned = fake.advance(at_limits[0].id, "succeeded")["fine_tuned_model"]
    again = await create(model=tuned)
    assert again.model == tuned
    with pytest.raises(openai.BadRequestError) as refused:
        await create(model=tuned + "x")
    assert refusal(refused.value)[1]["code"] == "model_not_available"


async def test_a_job_reports_the_hyperparameters_it_was_given_and_auto_for_the_rest(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    uploaded = await client.files.create(file=("t.jsonl", io.BytesIO(SFT)), purpose="fine-tune")
    auto = {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"}

    async def reported(**args: Any) -> tuple[Any, Any, Any]:
        created = await client.fine_tuning.jobs.create(model=BASE, training_file=uploaded.id, **args)
        job = await client.fine_tuning.jobs.retrieve(created.id)  # kept as created
        assert job.method is not None
        section = job.method.dpo if job.method.type == "dpo" else job.method.supervised
        assert section is not None and section.hyperparameters is not None
        return job.method.type, section.hyperparameters.model_dump(), job.hyperparameters.model_dump()

    given = {"n_epochs": 3, "batch_size": 8}
    assert await reported(method={"type": "supervised", "supervised": {"hyperparameters": given}}) == (
        "supervised",
        auto | given,
        auto | given,
    )
    dpo = {"learning_rate_multiplier": 0.5, "beta": 0.2}
    kind, method, top = await reported(method={"type": "dpo", "dpo": {"hyperparameters": dpo}})
    assert (kind, method) == ("dpo", auto | dpo)
    assert top == auto | {"learning_rate_multiplier": 0.5}
    # The older top-level hyperparameters are a supervised job's.
    assert await reported(hyperparameters={"n_epochs": 2}) == (
        "supervised",
        auto | {"n_epochs": 2},
        auto | {"n_epochs": 2},
    )
    assert await reported() == ("supervised", auto, auto)
    dpo_auto = await reported(method={"type": "dpo", "dpo": {}})
    assert dpo_auto[:2] == ("dpo", auto | {"beta": "auto"})


async def test_a_held_upload_is_stored_only_once_released(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    hold = fake.hold_next("POST", "/files")
    upload = asyncio.create_task(client.files.create(file=("t.jsonl", io.BytesIO(SFT)), purpose="fine-tune"))
    async with asyncio.timeout(5):
        await hold.arrived.wait()
    assert fake.files == {} and not upload.done()  # arrived, not yet acted on
    hold.release.set()
    uploaded = await upload
    assert list(fake.files) == [uploaded.id]
    # Only the next such request is held.
    assert (await client.files.create(file=("u.jsonl", io.BytesIO(SFT)), purpose="fine-tune")).id in fake.files


async def test_unknown_retired_and_unfinished_fine_tuned_models_answer_openais_404(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    question: Any = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError) as refused:
        await client.chat.completions.create(model="gpt-nonexistent", messages=question)
    assert refused.value.body == {
        "message": "The model `gpt-nonexistent` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }
    with pytest.raises(openai.NotFoundError):
        await client.embeddings.create(model="gpt-nonexistent", input="hi")
    # A fine-tune exists once its job succeeded, and not before.
    uploaded = await client.files.create(file=("d.jsonl", b"{}\n"), purpose="fine-tune")
    job = await client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=uploaded.id)
    tuned = f"ft:gpt-4o-mini-2024-07-18:fake-org:custom:{job.id[-8:]}"
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model=tuned, messages=question)
    fake.advance(job.id, "succeeded")
    answered = await client.chat.completions.create(model=tuned, messages=question)
    assert answered.choices[0].message.content == "Answer to: hi"
    listed = [m.id async for m in client.models.list()]
    assert "gpt-6-luna" in listed  # config.toml's default model is served
    fake.retire(tuned)
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model=tuned, messages=question)
    assert fake.chat_refused == ["gpt-nonexistent", tuned, tuned]


async def test_reasoning_models_refuse_max_tokens_as_openai_does(client: openai.AsyncOpenAI) -> None:
    question: Any = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.BadRequestError) as refused:
        await client.chat.completions.create(model="gpt-6-luna", messages=question, max_tokens=10)
    assert isinstance(refused.value.body, dict) and refused.value.body.get("param") == "max_tokens"
    answered = await client.chat.completions.create(model="gpt-6-luna", messages=question, max_completion_tokens=10)
    assert answered.choices[0].message.content == "Answer to: hi"
