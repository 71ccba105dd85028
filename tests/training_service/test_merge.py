"""Merging an adapter into its base writes a whole model directory only once it is complete: a server never finds
half a model under the name, and a merge that comes out incomplete leaves the previous one in place."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from bot.training_service.merge import is_complete, main, merge


class Saved:
    """A model or tokenizer that writes the files it stands for."""

    def __init__(self, files: tuple[str, ...], loaded_from: list[str], name: str) -> None:
        self.files = files
        loaded_from.append(name)

    def merge_and_unload(self) -> Saved:
        return self

    def save_pretrained(self, directory: str) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for name in self.files:
            (Path(directory) / name).write_text("{}")


def libraries(monkeypatch: pytest.MonkeyPatch, model_files: tuple[str, ...]) -> list[str]:
    """Stand-ins for peft and transformers (the real ones load gigabytes); returns what they were asked to load."""
    loaded: list[str] = []
    peft: Any = types.ModuleType("peft")
    peft.AutoPeftModelForCausalLM = types.SimpleNamespace(
        from_pretrained=lambda path, dtype: Saved(model_files, loaded, path)  # type: ignore[misc]
    )
    transformers: Any = types.ModuleType("transformers")
    transformers.AutoTokenizer = types.SimpleNamespace(
        from_pretrained=lambda base: Saved(("tokenizer_config.json",), loaded, base)  # type: ignore[misc]
    )
    monkeypatch.setitem(sys.modules, "peft", peft)
    monkeypatch.setitem(sys.modules, "transformers", transformers)
    return loaded


def adapter(tmp_path: Path) -> Path:
    directory = tmp_path / "adapters" / "ftjob-1"
    directory.mkdir(parents=True)
    (directory / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "Qwen/Qwen2.5-0.5B"}))
    return directory


def test_the_merged_model_replaces_the_old_one_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = libraries(monkeypatch, ("config.json", "model.safetensors"))
    out = tmp_path / "served" / "support-bot"
    out.mkdir(parents=True)
    (out / "stale.bin").write_text("old")
    merge(adapter(tmp_path), out)
    assert loaded == [str(tmp_path / "adapters" / "ftjob-1"), "Qwen/Qwen2.5-0.5B"]  # the base's own tokenizer
    assert is_complete(out)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "tokenizer_config.json"]
    assert [p.name for p in out.parent.iterdir()] == ["support-bot"]  # no staging directory left


def test_an_incomplete_merge_fails_and_leaves_the_served_model_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    libraries(monkeypatch, ("model.safetensors",))  # no config.json
    out = tmp_path / "served" / "support-bot"
    out.mkdir(parents=True)
    for name in ("config.json", "tokenizer_config.json"):
        (out / name).write_text("previous")
    with pytest.raises(RuntimeError, match=r"^the merged model lacks config\.json$"):
        merge(adapter(tmp_path), out)
    assert is_complete(out) and (out / "config.json").read_text() == "previous"


def test_a_directory_is_complete_only_with_its_config_and_tokenizer(tmp_path: Path) -> None:
    assert not is_complete(tmp_path / "absent")
    (tmp_path / "config.json").write_text("{}")
    assert not is_complete(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text("{}")
    assert is_complete(tmp_path)


def test_the_command_line_wants_two_directories(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["only-one"]) == 2
    assert "usage: python -m bot.training_service.merge ADAPTER_DIR OUT_DIR" in capsys.readouterr().err
