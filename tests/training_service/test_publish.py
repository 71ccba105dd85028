"""Serving without a GPU: a finished adapter merged into its base answers exactly as base + adapter did."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from bot.training_service.publish import MergedPublisher, PublishError


def make_adapter(base: Path, adapters: Path, adapter_id: str) -> Path:
    """A LoRA adapter on the tiny model whose update is large enough to change every logit."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    with warnings.catch_warnings():  # peft still asks transformers' deprecated is_gradient_checkpointing
        warnings.simplefilter("ignore", FutureWarning)
        model: Any = get_peft_model(
            AutoModelForCausalLM.from_pretrained(base), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear")
        )
    for name, tensor in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(tensor, std=0.5)
    out = adapters / adapter_id
    model.save_pretrained(out)
    return out


def logits(model_dir: Path, *, adapter: Path | None = None) -> Any:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer: Any = AutoTokenizer.from_pretrained(model_dir)
    model: Any = AutoModelForCausalLM.from_pretrained(model_dir)
    if adapter is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            model = PeftModel.from_pretrained(model, adapter)
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Who wrote Hamlet?"}], add_generation_prompt=True, return_tensors="pt"
    )
    with torch.no_grad():
        return model(input_ids=ids if isinstance(ids, torch.Tensor) else ids["input_ids"]).logits


async def test_a_merged_model_answers_as_base_plus_adapter_did_and_is_served_by_its_name(
    tiny_model: Path, tmp_path: Path
) -> None:
    import torch

    adapter = make_adapter(tiny_model, tmp_path / "adapters", "ftjob-abc")
    publisher = MergedPublisher(tmp_path / "served", tmp_path / "adapters")
    name = "ft:tiny:teachbot:abc"

    await publisher.load(name, "ftjob-abc")

    merged = tmp_path / "served" / name
    assert publisher.served() == {name}
    assert json.loads((merged / "config.json").read_text())["model_type"] == "llama"
    expected = logits(tiny_model, adapter=adapter)
    assert not torch.allclose(expected, logits(tiny_model), atol=1e-3)  # the adapter changes the answer ...
    assert torch.allclose(logits(merged), expected, atol=1e-4)  # ... and the merged model answers the same
    assert sorted(p.name for p in (tmp_path / "served").iterdir()) == [name]  # nothing half-written beside it


async def test_a_deleted_merged_model_is_merged_again_at_the_next_sync(tiny_model: Path, tmp_path: Path) -> None:
    import shutil

    make_adapter(tiny_model, tmp_path / "adapters", "ftjob-abc")
    publisher = MergedPublisher(tmp_path / "served", tmp_path / "adapters")
    name = "ft:tiny:teachbot:abc"
    assert await publisher.sync({name: "ftjob-abc"}) == [name]
    assert await publisher.sync({name: "ftjob-abc"}) == []  # already there: nothing merged twice

    shutil.rmtree(tmp_path / "served" / name)
    assert await publisher.sync({name: "ftjob-abc"}) == [name]
    assert publisher.served() == {name}


async def test_names_that_are_not_model_names_never_become_paths_and_missing_adapters_are_refused(
    tmp_path: Path,
) -> None:
    publisher = MergedPublisher(tmp_path / "served", tmp_path / "adapters")
    for name in ("../escape", ".hidden", "a/b", ""):
        with pytest.raises(PublishError, match="directory name"):
            await publisher.load(name, "ftjob-abc")
    with pytest.raises(PublishError, match="adapter's files are missing"):
        await publisher.load("ft:tiny:x:abc", "ftjob-nope")
    assert not (tmp_path / "served").exists() or not any((tmp_path / "served").iterdir())


async def test_a_merge_that_fails_leaves_no_model_behind(tmp_path: Path) -> None:
    adapter = tmp_path / "adapters" / "ftjob-abc"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tmp_path / "nowhere")}))
    publisher = MergedPublisher(tmp_path / "served", tmp_path / "adapters")

    with pytest.raises(PublishError, match="merging the adapter into its base model failed"):
        await publisher.load("ft:tiny:x:abc", "ftjob-abc")
    assert publisher.served() == set()
