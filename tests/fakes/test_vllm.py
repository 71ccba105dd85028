"""The fake vLLM is as strict as vLLM's runtime LoRA API, and the service's publisher copes with what it answers."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import openai
import pytest

from bot.training_service.publish import PublishError, VLLMPublisher
from tests.fakes.vllm import FakeVLLM


def adapter_dir(root: Path, name: str) -> Path:
    path = root / name
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8, "lora_alpha": 16}))
    return path


async def test_fake_vllm_refuses_what_vllm_refuses(tmp_path: Path) -> None:
    good = adapter_dir(tmp_path, "a")
    async with FakeVLLM("base") as vllm, aiohttp.ClientSession() as http:
        load = f"{vllm.base_url}/load_lora_adapter"
        async with http.post(load, json={"lora_name": "ft:a", "lora_path": str(good)}) as r:
            assert (r.status, await r.text()) == (200, "Success: LoRA adapter 'ft:a' added successfully.")
        async with http.post(load, json={"lora_name": "ft:a", "lora_path": str(good)}) as r:
            body = await r.json()
            assert r.status == 400 and body["error"]["message"] == "The lora adapter 'ft:a' has already been loaded."
        async with http.post(load, json={"lora_name": "ft:b", "lora_path": str(tmp_path / "none")}) as r:
            assert r.status == 404 and "No adapter found" in (await r.json())["error"]["message"]
        async with http.post(load, json={"lora_name": "ft:c"}) as r:
            assert r.status == 400
        unload = f"{vllm.base_url}/unload_lora_adapter"
        async with http.post(unload, json={"lora_name": "ft:zzz"}) as r:
            assert r.status == 404 and (await r.json())["error"]["code"] == 404
        async with openai.AsyncOpenAI(api_key="x", base_url=vllm.base_url, max_retries=0) as client:
            models = [m.id for m in (await client.models.list()).data]
            assert models == ["base", "ft:a"]
            with pytest.raises(openai.NotFoundError, match=r"The model `ft:b` does not exist\."):
                await client.chat.completions.create(model="ft:b", messages=[{"role": "user", "content": "hi"}])
            vllm.restart()
            with pytest.raises(openai.NotFoundError):
                await client.chat.completions.create(model="ft:a", messages=[{"role": "user", "content": "hi"}])
        assert vllm.chat_models == ["ft:b", "ft:a"]


async def test_publisher_loads_reloads_after_a_restart_and_names_path_problems(tmp_path: Path) -> None:
    adapter_dir(tmp_path, "ftjob-1")
    async with FakeVLLM("base", api_key="vk") as vllm:
        publisher = VLLMPublisher(vllm.base_url, str(tmp_path), api_key="vk")
        try:
            await publisher.load("ft:base::1", "ftjob-1")
            await publisher.load("ft:base::1", "ftjob-1")  # already loaded: fine
            assert vllm.adapters == {"ft:base::1": str(tmp_path / "ftjob-1")}
            vllm.restart()
            assert await publisher.sync({"ft:base::1": "ftjob-1"}) == ["ft:base::1"]
            assert await publisher.sync({"ft:base::1": "ftjob-1"}) == []
            with pytest.raises(PublishError, match="adapter_dir_for_vllm"):
                await publisher.load("ft:base::2", "ftjob-2")
        finally:
            await publisher.close()
        wrong_key = VLLMPublisher(vllm.url, str(tmp_path), api_key="nope")
        try:
            with pytest.raises(PublishError, match="HTTP 401"):
                await wrong_key.served()
        finally:
            await wrong_key.close()
