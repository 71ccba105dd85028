"""Fine-tuning's clients: a backend without an address of its own trains through the chat endpoint's client; one
with an address gets its own client, with its own key from the environment (none needed on loopback)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest

from bot.finetuning.settings import BackendSettings, TrainingSettings
from bot.finetuning.wiring import training_clients
from bot.llm.settings import LLMSettings

LLM = LLMSettings(request_timeout_s=30.0, max_retries=1)
AZURE = BackendSettings(
    kind="azure", base_url="https://r.openai.azure.com/openai/v1/", key_env="AZURE_KEY", base_models=["gpt-4o-mini"]
)


@pytest.fixture
async def chat() -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(api_key="sk-chat", base_url="http://127.0.0.1:9/v1")
    yield client
    await client.close()


async def test_openai_fine_tuning_goes_through_the_chat_endpoints_client(chat: openai.AsyncOpenAI) -> None:
    assert training_clients(TrainingSettings(), LLM, chat, {}, None) == {"openai": chat}


async def test_a_backend_with_its_own_address_gets_its_own_client_and_key(chat: openai.AsyncOpenAI) -> None:
    training = TrainingSettings(backend="local", base_url="http://127.0.0.1:8600/v1", backends={"azure": AZURE})
    clients = training_clients(training, LLM, chat, {"azure": "az-key"}, "trainer-key")
    try:
        local, azure = clients["local"], clients["azure"]
        assert chat not in (local, azure)
        assert (str(local.base_url), local.api_key) == ("http://127.0.0.1:8600/v1/", "trainer-key")
        assert (str(azure.base_url), azure.api_key) == ("https://r.openai.azure.com/openai/v1/", "az-key")
        assert (azure.timeout, azure.max_retries) == (30.0, 1)  # the model settings' patience
    finally:
        for client in clients.values():
            await client.close()


async def test_a_table_backend_never_borrows_the_single_backends_key(chat: openai.AsyncOpenAI) -> None:
    training = TrainingSettings(backends={"azure": AZURE})
    clients = training_clients(training, LLM, chat, {}, "trainer-key")
    try:
        assert clients["openai"] is chat
        assert clients["azure"].api_key == "not-needed"  # its AZURE_KEY is unset: no other backend's key is sent
    finally:
        await clients["azure"].close()
